//! `nodes.conf` in Redis's text format: one CLUSTER NODES line per node plus the
//! `vars currentEpoch N lastVoteEpoch M` line, loaded at start and saved atomically.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use anyhow::{bail, Context};

use super::slots::SLOTS;
use super::state::{ClusterNode, ClusterState, LinkState, NodeFlags, NodeIndex};

/// One node as CLUSTER NODES and nodes.conf show it (Redis's `clusterGenNodeDescription`).
pub fn node_line(state: &ClusterState, i: NodeIndex) -> String {
    let n = state.node(i);
    let mut line = format!("{} {}:{}@{}", n.id, n.ip, n.port, n.bus_port);
    if !n.hostname.is_empty() {
        let _ = write!(line, ",{}", n.hostname);
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

/// CLUSTER NODES: every node, one line each. `skip_handshake` leaves out nodes still
/// in handshake, as nodes.conf does.
pub fn describe(state: &ClusterState, skip_handshake: bool) -> String {
    let mut out = String::new();
    for (i, n) in state.iter() {
        if skip_handshake && n.flags.has(NodeFlags::HANDSHAKE) {
            continue;
        }
        out.push_str(&node_line(state, i));
        out.push('\n');
    }
    out
}

/// The whole file.
pub fn render(state: &ClusterState) -> String {
    let mut out = describe(state, true);
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

/// `ip:port@cport[,hostname]`; the ip may itself contain colons (IPv6).
fn parse_addr(node: &mut ClusterNode, addr: &str) -> anyhow::Result<()> {
    let (addr, hostname) = addr.split_once(',').unwrap_or((addr, ""));
    let (hostport, cport) = addr.split_once('@').context("missing @cport")?;
    let (ip, port) = hostport.rsplit_once(':').context("missing :port")?;
    node.ip = ip.to_string();
    node.port = port.parse().context("bad port")?;
    node.bus_port = cport.parse().context("bad cluster port")?;
    node.hostname = hostname.to_string();
    Ok(())
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

    #[test]
    fn round_trip() {
        let text = "\
aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 127.0.0.1:7001@17001 master - 0 1700000000000 2 connected 8000-16383
bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-7999 [8000-<-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]
cccccccccccccccccccccccccccccccccccccccc ::1:7002@17002,host master,fail? - 5 6 0 disconnected 
vars currentEpoch 2 lastVoteEpoch 1
";
        let dir = std::env::temp_dir().join(format!("nodes-conf-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("nodes.conf");
        std::fs::write(&path, text).unwrap();
        let mut state = ClusterState::new(path.clone());
        assert!(load(&mut state, &path).unwrap());
        assert_eq!(state.me().id, "b".repeat(40));
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
            .replace("disconnected \n", "disconnected\n");
        assert_eq!(rendered, want);
        save(&state).unwrap();
        let mut again = ClusterState::new(path.clone());
        assert!(load(&mut again, &path).unwrap());
        assert_eq!(render(&again), rendered);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
