//! Pub/sub registry: which clients listen on which channels, patterns and shard
//! channels, and delivery of messages into their output.

use std::collections::HashMap;
use std::rc::Rc;

use crate::client::ClientShared;

/// Subscribers of channels, patterns and shard channels, by client id.
#[derive(Default)]
pub struct PubSub {
    pub channels: HashMap<Vec<u8>, Vec<Rc<ClientShared>>>,
    pub patterns: HashMap<Vec<u8>, Vec<Rc<ClientShared>>>,
    pub shard_channels: HashMap<Vec<u8>, Vec<Rc<ClientShared>>>,
}

impl PubSub {
    /// Drops every subscription of a disconnecting client.
    pub fn remove_client(&mut self, client: &crate::client::Client) {
        let id = client.id();
        let drop_from = |map: &mut HashMap<Vec<u8>, Vec<Rc<ClientShared>>>,
                         names: &std::collections::BTreeSet<Vec<u8>>| {
            for name in names {
                if let Some(list) = map.get_mut(name) {
                    list.retain(|c| c.id != id);
                    if list.is_empty() {
                        map.remove(name);
                    }
                }
            }
        };
        drop_from(&mut self.channels, &client.channels);
        drop_from(&mut self.patterns, &client.patterns);
        drop_from(&mut self.shard_channels, &client.shard_channels);
    }
}
