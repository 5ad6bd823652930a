//! `nodes.conf` in Redis's text format: one CLUSTER NODES line per node (with 7.2's
//! `shard-id=` aux field) plus the `vars` line, loaded at start and saved atomically.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use anyhow::{bail, Context};

use super::slots::SLOTS;
use super::state::{ClusterNode, ClusterState, LinkState, NodeFlags, NodeIndex};

/// One node as CLUSTER NODES shows it (Redis's `clusterGenNodeDescription`).
pub fn node_line(state: &ClusterState, i: NodeIndex) -> String {
    line(state, i, false)
}

/// One node as nodes.conf stores it: Redis 7.2 adds aux fields (`key=value`) after the
/// hostname, which stays as a possibly empty second field:
/// `ip:port@cport,hostname,shard-id=<40 hex>`. CLUSTER NODES does not show them.
fn conf_line(state: &ClusterState, i: NodeIndex) -> String {
    line(state, i, true)
}

fn line(state: &ClusterState, i: NodeIndex, aux: bool) -> String {
    let n = state.node(i);
    let mut line = format!("{} {}:{}@{}", n.id, n.ip, n.port, n.bus_port);
    if !n.hostname.is_empty() || aux {
        let _ = write!(line, ",{}", n.hostname);
    }
    if aux {
        let _ = write!(line, ",shard-id={}", n.shard_id);
    }
    let link = if n.link == LinkState::Connected || n.flags.has(NodeFlags::MYSELF) {
        "connected"
    } else {
        "disconnected"
    };
    let _ = write!(
        line,
        " {} {} {} {} {} {}",
        n.flags.render(),
        n.master_id.as_deref().unwrap_or("-"),
        n.ping_sent,
        n.pong_received,
        n.config_epoch,
        link
    );
    for (start, end) in n.slots.ranges() {
        if start == end {
            let _ = write!(line, " {start}");
        } else {
            let _ = write!(line, " {start}-{end}");
        }
    }
    if i == state.myself {
        for (slot, to) in &state.migrating_to {
            let _ = write!(line, " [{slot}->-{}]", state.node(*to).id);
        }
        for (slot, from) in &state.importing_from {
            let _ = write!(line, " [{slot}-<-{}]", state.node(*from).id);
        }
    }
    line
}

/// CLUSTER NODES: every node, one line each.
pub fn describe(state: &ClusterState) -> String {
    let mut out = String::new();
    for (i, _) in state.iter() {
        out.push_str(&node_line(state, i));
        out.push('\n');
    }
    out
}

/// The whole file: nodes still in handshake are left out.
pub fn render(state: &ClusterState) -> String {
    let mut out = String::new();
    for (i, n) in state.iter() {
        if !n.flags.has(NodeFlags::HANDSHAKE) {
            out.push_str(&conf_line(state, i));
            out.push('\n');
        }
    }
    let _ = writeln!(
        out,
        "vars currentEpoch {} lastVoteEpoch {}",
        state.current_epoch, state.last_vote_epoch
    );
    out
}

/// Writes the file atomically: a temporary file next to it, fsync, rename.
pub fn save(state: &ClusterState) -> anyhow::Result<()> {
    write(state, true)
}

/// Like [`save`] without the fsyncs, as Redis saves after changes that need no
/// durability guarantee (SETSLOT without an epoch bump): `redis-cli --cluster reshard`
/// sends five SETSLOTs per slot, and two fsyncs each made it 60 times slower than Redis.
pub fn save_unsynced(state: &ClusterState) -> anyhow::Result<()> {
    write(state, false)
}

fn write(state: &ClusterState, fsync: bool) -> anyhow::Result<()> {
    let path = &state.config_path;
    let tmp = path.with_file_name(format!(
        "{}.tmp-{}",
        path.file_name()
            .and_then(|f| f.to_str())
            .unwrap_or("nodes.conf"),
        std::process::id()
    ));
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    f.write_all(render(state).as_bytes())?;
    if fsync {
        f.sync_all()?;
    }
    drop(f);
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    if let Some(dir) = path.parent().filter(|d| fsync && !d.as_os_str().is_empty()) {
        // Make the rename itself durable.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Loads `path` into `state`. Returns false when there is no file (or it is empty), so
/// the caller keeps the new single-node state and saves it.
pub fn load(state: &mut ClusterState, path: &Path) -> anyhow::Result<bool> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    if text.trim().is_empty() {
        return Ok(false);
    }
    state.nodes.clear();
    let mut myself = None;
    let mut open_slots: Vec<(u16, bool, String)> = Vec::new();
    for (lineno, line) in text.lines().enumerate() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.is_empty() {
            continue;
        }
        let result = if words[0] == "vars" {
            load_vars(state, &words)
        } else {
            load_node(state, &words, &mut open_slots).map(|i| {
                if state.node(i).flags.has(NodeFlags::MYSELF) {
                    myself = Some(i);
                }
            })
        };
        result.with_context(|| {
            format!(
                "Unrecoverable error: corrupted cluster config file \"{line}\" (line {})",
                lineno + 1
            )
        })?;
    }
    let Some(me) = myself else {
        bail!("Myself node not found in cluster config file");
    };
    state.myself = me;
    // A replica is in its master's shard: this fills in shard ids missing from files of
    // Redis < 7.2 (masters got a random one) and settles a disagreement for the master.
    let replicas: Vec<(NodeIndex, NodeIndex)> = state
        .iter()
        .filter(|(_, n)| !n.is_master())
        .filter_map(|(i, n)| {
            let m = n.master_id.as_deref()?;
            state.lookup(m.as_bytes()).map(|m| (i, m))
        })
        .collect();
    for (r, m) in replicas {
        state.node_mut(r).shard_id = state.node(m).shard_id.clone();
    }
    for (slot, migrating, id) in open_slots {
        let Some(other) = state.lookup(id.as_bytes()) else {
            continue;
        };
        let map = if migrating {
            &mut state.migrating_to
        } else {
            &mut state.importing_from
        };
        map.insert(slot, other);
    }
    Ok(true)
}

fn load_vars(state: &mut ClusterState, words: &[&str]) -> anyhow::Result<()> {
    for pair in words[1..].chunks(2) {
        let [name, value] = pair else {
            bail!("odd number of vars");
        };
        let value: u64 = value.parse().context("bad var value")?;
        match *name {
            "currentEpoch" => state.current_epoch = value,
            "lastVoteEpoch" => state.last_vote_epoch = value,
            _ => {}
        }
    }
    Ok(())
}

/// `ip:port@cport[,hostname[,aux=value]*]`; the ip may itself contain colons (IPv6).
/// Aux fields are Redis 7.2's: `shard-id` is kept, `nodename`, `tcp-port` and
/// `tls-port` are accepted and ignored, any other one is an error (as in 7.2). A
/// missing shard id leaves the random one the node was created with.
fn parse_addr(node: &mut ClusterNode, addr: &str) -> anyhow::Result<()> {
    let mut fields = addr.split(',');
    let addr = fields.next().unwrap_or_default();
    let hostname = fields.next().unwrap_or_default();
    let (hostport, cport) = addr.split_once('@').context("missing @cport")?;
    let (ip, port) = hostport.rsplit_once(':').context("missing :port")?;
    node.ip = ip.to_string();
    node.port = port.parse().context("bad port")?;
    node.bus_port = cport.parse().context("bad cluster port")?;
    node.hostname = hostname.to_string();
    for aux in fields {
        let (key, value) = aux.split_once('=').context("bad aux field")?;
        match key {
            "shard-id" => {
                if !is_node_id(value) {
                    bail!("bad shard id");
                }
                node.shard_id = value.to_string();
            }
            "nodename" | "tcp-port" | "tls-port" => {}
            _ => bail!("unknown aux field {key}"),
        }
    }
    Ok(())
}

/// 40 hex characters, as the ids we generate (the bus carries exactly 40 bytes).
fn is_node_id(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn parse_slot(s: &str) -> anyhow::Result<usize> {
    let slot: usize = s.parse().context("bad slot")?;
    if slot >= SLOTS {
        bail!("slot out of range");
    }
    Ok(slot)
}

fn load_node(
    state: &mut ClusterState,
    words: &[&str],
    open_slots: &mut Vec<(u16, bool, String)>,
) -> anyhow::Result<NodeIndex> {
    if words.len() < 8 {
        bail!("too few fields");
    }
    let mut node = ClusterNode::new(words[0].to_string(), NodeFlags::parse(words[2]));
    parse_addr(&mut node, words[1])?;
    node.master_id = Some(words[3].to_string()).filter(|m| m != "-");
    node.ping_sent = words[4].parse().context("bad ping_sent")?;
    node.pong_received = words[5].parse().context("bad pong_recv")?;
    node.config_epoch = words[6].parse().context("bad config epoch")?;
    if node.flags.has(NodeFlags::MYSELF) {
        node.link = LinkState::Connected;
    }
    let i = state.add_node(node);
    for word in &words[8..] {
        if let Some(open) = word.strip_prefix('[').and_then(|w| w.strip_suffix(']')) {
            let (slot, migrating, id) = match open.split_once("->-") {
                Some((s, id)) => (s, true, id),
                None => {
                    let (s, id) = open.split_once("-<-").context("bad open slot")?;
                    (s, false, id)
                }
            };
            open_slots.push((parse_slot(slot)? as u16, migrating, id.to_string()));
            continue;
        }
        let (start, end) = match word.split_once('-') {
            Some((a, b)) => (parse_slot(a)?, parse_slot(b)?),
            None => (parse_slot(word)?, parse_slot(word)?),
        };
        for slot in start..=end {
            state.add_slot(slot, i);
        }
    }
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A temporary nodes.conf holding `text`, removed on drop.
    struct TempConf(std::path::PathBuf);

    impl TempConf {
        fn new(name: &str, text: &str) -> TempConf {
            let dir =
                std::env::temp_dir().join(format!("nodes-conf-test-{name}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("nodes.conf");
            std::fs::write(&path, text).unwrap();
            TempConf(path)
        }

        fn load(&self) -> anyhow::Result<ClusterState> {
            let mut state = ClusterState::new(self.0.clone());
            assert!(load(&mut state, &self.0)?);
            Ok(state)
        }
    }

    impl Drop for TempConf {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(self.0.parent().unwrap());
        }
    }

    #[test]
    fn round_trip() {
        let text = "\
aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 127.0.0.1:7001@17001,,shard-id=1111111111111111111111111111111111111111 master - 0 1700000000000 2 connected 8000-16383
bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb 127.0.0.1:7000@17000,,shard-id=2222222222222222222222222222222222222222 myself,master - 0 0 1 connected 0-7999 [8000-<-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]
cccccccccccccccccccccccccccccccccccccccc ::1:7002@17002,host,shard-id=3333333333333333333333333333333333333333 master,fail? - 5 6 0 disconnected 
dddddddddddddddddddddddddddddddddddddddd 127.0.0.1:7003@17003,,shard-id=2222222222222222222222222222222222222222 slave bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb 0 0 1 connected
vars currentEpoch 2 lastVoteEpoch 1
";
        let conf = TempConf::new("round-trip", text);
        let state = conf.load().unwrap();
        assert_eq!(state.me().id, "b".repeat(40));
        assert_eq!(state.me().shard_id, "2".repeat(40));
        assert_eq!(state.node(0).shard_id, "1".repeat(40));
        assert_eq!(state.current_epoch, 2);
        assert_eq!(state.last_vote_epoch, 1);
        assert_eq!(state.slot_owner[8000], Some(0));
        assert_eq!(state.importing_from.get(&8000), Some(&0));
        assert_eq!(state.node(2).ip, "::1");
        assert_eq!(state.node(2).hostname, "host");
        let rendered = render(&state);
        // Links are down until the bus connects; the empty slot list leaves no space.
        let want = text
            .replace("2 connected 8000", "2 disconnected 8000")
            .replace("1 connected\n", "1 disconnected\n")
            .replace("disconnected \n", "disconnected\n");
        assert_eq!(rendered, want);
        // CLUSTER NODES shows no aux field, as in Redis 7.2.
        assert_eq!(
            describe(&state).lines().nth(2).unwrap(),
            "cccccccccccccccccccccccccccccccccccccccc ::1:7002@17002,host master,fail? - 5 6 0 disconnected"
        );
        assert!(!describe(&state).contains("shard-id"));
        save(&state).unwrap();
        assert_eq!(render(&conf.load().unwrap()), rendered);
    }

    /// A Redis < 7.2 file: masters get a new shard id each, replicas their master's,
    /// whatever the order of the lines; the next save writes them.
    #[test]
    fn loads_a_file_without_shard_ids() {
        let text = "\
dddddddddddddddddddddddddddddddddddddddd 127.0.0.1:7003@17003 myself,slave bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb 0 0 1 connected
aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 127.0.0.1:7001@17001 master - 0 0 2 connected 8000-16383
bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb 127.0.0.1:7000@17000,host master - 0 0 1 connected 0-7999
vars currentEpoch 2 lastVoteEpoch 1
";
        let conf = TempConf::new("old", text);
        let state = conf.load().unwrap();
        let shard = |i: NodeIndex| state.node(i).shard_id.clone();
        assert!(is_node_id(&shard(1)) && is_node_id(&shard(2)));
        assert_ne!(shard(1), shard(2));
        assert_eq!(shard(0), shard(2));
        assert_eq!(state.node(2).hostname, "host");
        let rendered = render(&state);
        assert!(rendered.contains(&format!("17003,,shard-id={} myself,slave", shard(2))));
        assert!(rendered.contains(&format!("17000,host,shard-id={} master", shard(2))));
        save(&state).unwrap();
        let again = conf.load().unwrap();
        for (i, n) in again.iter() {
            assert_eq!(n.shard_id, shard(i));
        }
    }

    /// The replica's own shard-id loses to its master's (they must agree).
    #[test]
    fn a_replica_takes_its_masters_shard_id() {
        let text = "\
dddddddddddddddddddddddddddddddddddddddd 127.0.0.1:7003@17003,,shard-id=4444444444444444444444444444444444444444 myself,slave bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb 0 0 1 connected
bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb 127.0.0.1:7000@17000,,shard-id=2222222222222222222222222222222222222222 master - 0 0 1 connected 0-16383
";
        let state = TempConf::new("disagree", text).load().unwrap();
        assert_eq!(state.me().shard_id, "2".repeat(40));
    }

    /// Redis 7.2's other aux fields are accepted; unknown or malformed ones are errors.
    #[test]
    fn aux_fields() {
        let line = |addr: &str| {
            format!(
                "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb {addr} myself,master - 0 0 1 connected 0-16383\n"
            )
        };
        let redis72 = line(&format!(
            "127.0.0.1:7000@17000,,tls-port=0,shard-id={}",
            "e".repeat(40)
        ));
        let state = TempConf::new("aux-ok", &redis72).load().unwrap();
        assert_eq!(state.me().shard_id, "e".repeat(40));
        assert_eq!(state.me().port, 7000);
        for bad in [
            "127.0.0.1:7000@17000,,nosuch=1",
            "127.0.0.1:7000@17000,,shard-id",
            "127.0.0.1:7000@17000,,shard-id=abc",
            &format!("127.0.0.1:7000@17000,,shard-id={}", "x".repeat(40)),
        ] {
            let Err(err) = TempConf::new("aux-bad", &line(bad)).load() else {
                panic!("{bad} loaded");
            };
            assert!(
                format!("{err:#}").contains("corrupted cluster config file"),
                "{bad}: {err:#}"
            );
        }
    }
}
