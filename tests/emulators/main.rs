//! Tests against the real stand-ins of docs/testing.md: DynamoDB Local and moto server, started on
//! 127.0.0.1 by scripts/with-emulators.sh (scripts/test.sh runs these through it). Without
//! them every test here fails with a message that says so: a missing emulator is never a
//! skip.

#[path = "../common/mod.rs"]
mod common;

mod api_contract;
mod backfill;
mod contracts;
mod dynamodb;
mod end_to_end;
mod feedback;
mod moto_services;
mod replay;
mod runtime;
mod stand_in;
mod stand_ins;
mod statements;
mod support;
