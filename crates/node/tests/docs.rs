//! docs/COMMANDS.md lists every command in the command table, by group. Run with
//! `UPDATE_DOCS=1` to regenerate it after adding commands.

use std::collections::BTreeMap;

use node::cmd::table;

fn expected() -> String {
    let mut groups: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for c in table::all_commands() {
        let mut name = c.name.to_uppercase();
        if !c.subcommands.is_empty() {
            let subs: Vec<String> = c
                .subcommands
                .iter()
                .map(|s| s.name.to_uppercase())
                .collect();
            name = format!("{name} ({})", subs.join(", "));
        }
        groups.entry(c.group).or_default().push(name);
    }
    let mut out = String::from(
        "# Commands rustidocs-node supports\n\nGenerated from the command table by `crates/node/tests/docs.rs` \
         (`UPDATE_DOCS=1 cargo test -p rustidocs-node --test docs`). Each behaves as in Redis 7.0; \
         known differences are listed in docs/DIFFERENCES.md.\n",
    );
    for (group, mut names) in groups {
        names.sort();
        out.push_str(&format!("\n## {group}\n\n{}\n", names.join(", ")));
    }
    out
}

#[test]
fn commands_md_is_up_to_date() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/COMMANDS.md");
    let want = expected();
    if std::env::var("UPDATE_DOCS").is_ok() {
        std::fs::write(path, &want).unwrap();
    }
    let have = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        have == want,
        "docs/COMMANDS.md is stale: run UPDATE_DOCS=1 cargo test -p rustidocs-node --test docs"
    );
}
