//! Running commands in-process, through the same dispatch a connection uses, for tests
//! that look inside the server (propagation, fuzzing) without a socket.

use std::rc::Rc;

use node::client::{Client, ClientShared};
use node::cmd::{dispatch, OwnedArgs};
use node::config::Config;
use node::server::Server;
use resp::ReplyBuf;

pub struct InProc {
    pub srv: Rc<Server>,
    pub client: Client,
    pub out: ReplyBuf,
}

impl InProc {
    /// A server built from config text (`redis.conf` syntax), with one client.
    pub fn new(config_text: &str) -> InProc {
        let mut config = Config::default();
        config.load(config_text).expect("valid config");
        let srv = Server::new(config);
        let shared = Rc::new(ClientShared::new(
            srv.next_client_id(),
            "127.0.0.1:1".into(),
            "127.0.0.1:2".into(),
            -1,
            0,
        ));
        srv.clients.borrow_mut().insert(shared.id, shared.clone());
        let client = Client::new(shared, true);
        InProc {
            srv,
            client,
            out: ReplyBuf::new(false),
        }
    }

    /// Runs one command given as byte strings; returns its raw reply.
    pub fn run_bytes<'a>(&mut self, args: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
        let owned = OwnedArgs::from_slices(args);
        self.out.buf.clear();
        let _ = dispatch::execute(&self.srv, &mut self.client, &mut self.out, &owned.args());
        std::mem::take(&mut self.out.buf)
    }

    /// Runs one command written as words separated by spaces.
    pub fn run(&mut self, line: &str) -> Vec<u8> {
        self.run_bytes(line.split(' ').map(str::as_bytes))
    }
}
