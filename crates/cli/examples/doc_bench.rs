//! Benchmark harness of the document layer, driven by `bench/docs`: edit-to-remote-apply
//! latency with many editors, open time of a long history, control-service CPU per edit.
//!
//! `doc_bench latency --cluster H:P,… [--editors 50] [--seconds 10] [--rate 200]`
//! `doc_bench open --cluster H:P,… [--edits 250000] [--control-pid PID]`
//! `doc_bench control-cpu --cluster H:P,… --control-pid PID [--rate 1000] [--seconds 10]`
//! Each prints one JSON object on stdout.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use client::{Event, Session, Store};

use docs::{keys, DocKind, TextDoc};
use serde_json::json;
use yrs::updates::decoder::Decode;
use yrs::StateVector;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().cloned().unwrap_or_default();
    let flag = |name: &str, default: &str| -> String {
        args.windows(2)
            .find(|w| w[0] == name)
            .map_or_else(|| default.to_string(), |w| w[1].clone())
    };
    let cluster: Vec<String> = flag("--cluster", "127.0.0.1:7000")
        .split(',')
        .map(str::to_string)
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let out = rt.block_on(async {
        let store = Store::connect(&cluster).await?;
        match mode.as_str() {
            "latency" => {
                latency(
                    &store,
                    flag("--editors", "50").parse()?,
                    flag("--seconds", "10").parse()?,
                    flag("--rate", "200").parse()?,
                )
                .await
            }
            "open" => {
                open(
                    &store,
                    flag("--edits", "250000").parse()?,
                    control_pid(&flag),
                )
                .await
            }
            "control-cpu" => {
                let pid = control_pid(&flag).ok_or_else(|| anyhow::anyhow!("--control-pid"))?;
                control_cpu(
                    &store,
                    pid,
                    flag("--rate", "1000").parse()?,
                    flag("--seconds", "10").parse()?,
                )
                .await
            }
            _ => anyhow::bail!("mode: latency | open | control-cpu"),
        }
    })?;
    println!("{out}");
    Ok(())
}

fn control_pid(flag: &dyn Fn(&str, &str) -> String) -> Option<i32> {
    flag("--control-pid", "").parse().ok()
}

/// Send times of every edit, by editor and yrs clock (edit n of an editor has clock n).
type SentAt = Arc<Mutex<Vec<Vec<Instant>>>>;

/// `editors` sessions on one text; together they make `rate` single-character edits per
/// second for `seconds`; every other session records when each edit reached it.
async fn latency(store: &Store, editors: usize, seconds: u64, rate: u64) -> anyhow::Result<String> {
    let info = store.create(DocKind::Text, "bench", "bench").await?;
    let mut sessions = Vec::new();
    let mut streams = Vec::new();
    for i in 0..editors {
        let mut s = store.open(&info.id, &format!("e{i}")).await?;
        streams.push(s.take_events());
        sessions.push(Arc::new(s));
    }
    let ids: Vec<u64> = sessions.iter().map(|s| s.client_id()).collect();
    let sent: SentAt = Arc::new(Mutex::new(vec![Vec::new(); editors]));
    let samples = Arc::new(Mutex::new(Vec::<Duration>::new()));
    let mut receivers = Vec::new();
    for (s, events) in sessions.iter().zip(streams) {
        receivers.push(tokio::spawn(receive(
            s.clone(),
            events,
            ids.clone(),
            sent.clone(),
            samples.clone(),
        )));
    }
    let per_editor = Duration::from_secs_f64(editors as f64 / rate as f64);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut writers = Vec::new();
    for (e, s) in sessions.iter().enumerate() {
        let (s, sent) = (s.clone(), sent.clone());
        writers.push(tokio::spawn(async move {
            // Spread the editors' ticks over the period.
            tokio::time::sleep(per_editor.mul_f64(e as f64 / editors as f64)).await;
            let mut tick = tokio::time::interval(per_editor);
            while Instant::now() < deadline {
                tick.tick().await;
                sent.lock().unwrap()[e].push(Instant::now());
                let _ = s.insert_text(0, "x").await;
            }
        }));
    }
    for w in writers {
        w.await?;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    for r in receivers {
        r.abort();
    }
    let edits: usize = sent.lock().unwrap().iter().map(Vec::len).sum();
    let mut v = samples.lock().unwrap().clone();
    v.sort();
    let expected = edits * (editors - 1);
    let pct = |p: f64| v.get(((v.len() as f64 * p) as usize).min(v.len().saturating_sub(1)));
    let ms = |d: Option<&Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0);
    store.delete(&info.id).await?;
    Ok(json!({
        "editors": editors, "edits": edits, "deliveries": v.len(), "expected": expected,
        "p50_ms": ms(pct(0.50)), "p99_ms": ms(pct(0.99)), "max_ms": ms(v.last()),
    })
    .to_string())
}

/// One session's listener: on each change, every edit it now has that it did not have
/// before gives one latency sample.
async fn receive(
    s: Arc<Session>,
    mut events: tokio::sync::mpsc::UnboundedReceiver<Event>,
    ids: Vec<u64>,
    sent: SentAt,
    samples: Arc<Mutex<Vec<Duration>>>,
) {
    let me = s.client_id();
    let mut seen = vec![0u32; ids.len()];
    while let Some(event) = events.recv().await {
        if event != Event::Changed {
            continue;
        }
        let now = Instant::now();
        let sv =
            StateVector::decode_v1(&s.document().replica().state_vector_v1()).unwrap_or_default();
        let sent = sent.lock().unwrap();
        let mut out = samples.lock().unwrap();
        for (e, &id) in ids.iter().enumerate() {
            if id == me {
                continue;
            }
            let clock = sv.get(&docs::replica::client_id(id));
            for c in seen[e]..clock {
                if let Some(t) = sent[e].get(c as usize) {
                    out.push(now.duration_since(*t));
                }
            }
            seen[e] = seen[e].max(clock);
        }
    }
}

/// Writes a history of `edits` single-character edits to a new document's log, then
/// times opening it: from the log alone, and (with a control service) from its snapshot.
async fn open(store: &Store, edits: usize, control: Option<i32>) -> anyhow::Result<String> {
    let info = store.create(DocKind::Text, "history", "bench").await?;
    let writer = TextDoc::with_client_id(client::catalog::random_client_id());
    let started = Instant::now();
    for done in (0..edits).step_by(1000) {
        // Typing at the end, one character per edit and per log entry.
        let mut pipe = redis::pipe();
        for _ in done..(done + 1000).min(edits) {
            let update = writer.append("x");
            pipe.cmd("XADD")
                .arg(keys::log(&info.id))
                .arg("*")
                .arg(keys::LOG_FIELD)
                .arg(update)
                .ignore();
        }
        store.query_pipe::<()>(&pipe).await?;
    }
    let write_s = started.elapsed().as_secs_f64();
    // The control service would fold the log meanwhile: hold it still while opening from
    // the log alone (as when it is down).
    control.inspect(|pid| signal(*pid, "STOP"));
    let from_log = time_open(store, &info.id, edits).await;
    control.inspect(|pid| signal(*pid, "CONT"));
    let from_log = from_log?;
    let mut from_snapshot = None;
    if control.is_some() {
        let waited = Instant::now();
        loop {
            let n: usize = store
                .query(redis::cmd("XLEN").arg(keys::log(&info.id)))
                .await?;
            if n == 0 {
                break;
            }
            anyhow::ensure!(
                waited.elapsed() < Duration::from_secs(120),
                "log never folded"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        from_snapshot = Some(time_open(store, &info.id, edits).await?);
    }
    store.delete(&info.id).await?;
    Ok(json!({
        "edits": edits, "write_s": write_s,
        "open_from_log_ms": from_log, "open_from_snapshot_ms": from_snapshot,
    })
    .to_string())
}

/// Median of 3 opens, in ms; checks the content each time.
async fn time_open(store: &Store, id: &str, len: usize) -> anyhow::Result<f64> {
    let mut times = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let s = store.open(id, "reader").await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(s.document().text(id)?.len_chars() == len, "wrong content");
        s.close().await;
    }
    times.sort_by(f64::total_cmp);
    Ok(times[1])
}

fn signal(pid: i32, sig: &str) {
    let _ = std::process::Command::new("kill")
        .args([format!("-{sig}"), pid.to_string()])
        .status();
}

/// CPU seconds used by process `pid` so far (utime + stime).
fn cpu_seconds(pid: i32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    Ok(ticks / 100.0)
}

/// Edits at `rate` per second for `seconds` (one editor per 100 edits/s, on as many
/// documents); the control service's CPU meanwhile, per 1000 edits per second.
async fn control_cpu(store: &Store, pid: i32, rate: u64, seconds: u64) -> anyhow::Result<String> {
    let docs_n = rate.div_ceil(100) as usize;
    let mut sessions = Vec::new();
    for i in 0..docs_n {
        let info = store.create(DocKind::Text, "cpu", "bench").await?;
        sessions.push((
            info.id.clone(),
            Arc::new(store.open(&info.id, &format!("c{i}")).await?),
        ));
    }
    // Let the service follow the new documents before measuring.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cpu0 = cpu_seconds(pid)?;
    let t0 = Instant::now();
    let per_session = Duration::from_secs_f64(docs_n as f64 / rate as f64);
    let deadline = t0 + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for (_, s) in &sessions {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(per_session);
            let mut n = 0u64;
            while Instant::now() < deadline {
                tick.tick().await;
                if s.insert_text(0, "y").await.is_ok() {
                    n += 1;
                }
            }
            n
        }));
    }
    let mut edits = 0;
    for t in tasks {
        edits += t.await?;
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds(pid)? - cpu0;
    for (id, _) in &sessions {
        store.delete(id).await?;
    }
    let achieved = edits as f64 / elapsed;
    Ok(json!({
        "edits": edits, "seconds": elapsed, "edits_per_s": achieved,
        "control_cpu_s": cpu,
        "control_cpu_percent_per_1000_edits_per_s": cpu / elapsed * 100.0 / (achieved / 1000.0),
    })
    .to_string())
}
