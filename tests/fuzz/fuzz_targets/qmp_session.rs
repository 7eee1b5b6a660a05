//! A live QMP session: the qemu driver's real QMP client (greeting,
//! capabilities, commands, events, job polling, HMP fallback, cont/stop)
//! over a socketpair whose peer replays fuzzer-chosen chunks, for each of
//! the internal-snapshot operations (snapshot-save/load/delete jobs).
//! Invariants (checked inside `qmp_session`): no panic or hang; a failure is
//! a QEMU-domain operation-failed/timeout/internal error; the client sends
//! only well-formed commands; progress rises within 1..=99; success is never
//! reported for a snapshot operation QEMU was not asked to do.
//!
//! Input: selector byte (bits 0-2 operation, bit 3 stalling peer, bit 4
//! replies in 7-byte pieces), then the peer's replies separated by NUL
//! bytes; `$ID` / `$JOB` in a reply stand for the command's id / job id.
#![no_main]
use libfuzzer_sys::fuzz_target;
use virsnap_core::drivers::qemu::qmp::fuzzing::qmp_session;

fuzz_target!(|data: &[u8]| {
    if data.len() > 1 << 16 {
        return;
    }
    let _ = qmp_session(data);
});
