//! Generic key commands (Redis's `db.c` and `expire.c`): existence, deletion, types,
//! TTLs, renaming, iteration.

use super::table::{CommandSpec, Flags};
use super::{Args, CmdResult, Ctx};

const fn spec(
    name: &'static str,
    arity: i32,
    flags: Flags,
    handler: super::Handler,
    since: &'static str,
    summary: &'static str,
) -> CommandSpec {
    let acl: &'static [&'static str] = if flags.has(Flags::WRITE) {
        &["keyspace", "write"]
    } else {
        &["keyspace", "read"]
    };
    CommandSpec::new(name, arity, flags, handler)
        .keys(1, 1, 1)
        .acl(acl)
        .doc("generic", since, summary)
}

pub const COMMANDS: &[CommandSpec] = &[
    spec("del", -2, Flags::WRITE, del, "1.0.0", "Delete a key").keys(1, -1, 1),
    spec("unlink", -2, Flags::WRITE.with(Flags::FAST), del, "4.0.0", "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.").keys(1, -1, 1),
    spec("exists", -2, Flags::READONLY.with(Flags::FAST), exists, "1.0.0", "Determine if a key exists").keys(1, -1, 1),
    spec("type", 2, Flags::READONLY.with(Flags::FAST), key_type, "1.0.0", "Determine the type stored at key"),
];

fn del(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut db = ctx.db();
    let mut n = 0;
    for key in args.iter_from(1) {
        if db.get(key).is_some() {
            db.remove(key);
            db.modified(key);
            n += 1;
        }
    }
    drop(db);
    ctx.out.int(n);
    Ok(())
}

fn exists(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut db = ctx.db();
    let n = args.iter_from(1).filter(|k| db.read(k).is_some()).count();
    drop(db);
    ctx.out.int(n as i64);
    Ok(())
}

fn key_type(ctx: &mut Ctx, args: &Args) -> CmdResult {
    let mut db = ctx.db();
    let name = db.get(args.get(1)).map_or("none", |v| v.type_name());
    drop(db);
    ctx.out.simple(name.as_bytes());
    Ok(())
}
