//! Key and channel names in the cluster's keyspace (DESIGN.md, "Data in the keyspace").
//! A document's keys carry its id as a hash tag `{ID}`, so they share one slot.

/// Sorted set: document ids scored by last update time (ms).
pub const DOCS_INDEX: &str = "docs:index";
/// Sharded channel: prompts for the AI service.
pub const AI_REQUESTS: &str = "ai:requests";
/// Field name of an update in a `doc:{ID}:log` stream entry (`XADD … * u <update>`).
pub const LOG_FIELD: &str = "u";

/// Hash of the document's metadata: `doc:{ID}:meta`.
pub fn meta(id: &str) -> String {
    format!("doc:{{{id}}}:meta")
}

/// String with the document's yrs state, v2 encoded: `doc:{ID}:snapshot`.
pub fn snapshot(id: &str) -> String {
    format!("doc:{{{id}}}:snapshot")
}

/// Stream of updates since the snapshot: `doc:{ID}:log`.
pub fn log(id: &str) -> String {
    format!("doc:{{{id}}}:log")
}

/// Sharded channel of live updates, presence, joins and AI answers: `doc:{ID}`.
pub fn channel(id: &str) -> String {
    format!("doc:{{{id}}}")
}

/// Set of the ids of one topic: `docs:topic:{TOPIC}`.
pub fn topic(topic: &str) -> String {
    format!("docs:topic:{{{topic}}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_design() {
        assert_eq!(meta("42"), "doc:{42}:meta");
        assert_eq!(snapshot("42"), "doc:{42}:snapshot");
        assert_eq!(log("42"), "doc:{42}:log");
        assert_eq!(channel("42"), "doc:{42}");
        assert_eq!(topic("work"), "docs:topic:{work}");
        assert_eq!(DOCS_INDEX, "docs:index");
    }
}
