//! Hand-rolled micro-benchmarks of the XML parser/formatter and the snapshot
//! tree (issue 9; no criterion, so no heavy dependency):
//!
//!     cargo run --release -p virsnap-core --example microbench [-- ROUNDS]
//!
//! Each line: median ns per operation over ROUNDS (default 7) rounds, plus
//! min and max. Not a test; no assertions on time. See tests/bench/README.md.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use virsnap_core::flags::list;
use virsnap_core::model::{SnapshotDef, SnapshotState};
use virsnap_core::tree::SnapshotTree;
use virsnap_core::xml::{format_snapshot, parse_document, parse_snapshot, FormatFlags, ParseFlags};
use virsnap_core::ErrorDomain;

const N: usize = 10_000;

fn measure(label: &str, rounds: usize, ops: usize, mut f: impl FnMut()) {
    let mut ns: Vec<f64> = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_nanos() as f64 / ops as f64
        })
        .collect();
    ns.sort_by(f64::total_cmp);
    println!("{label:<44} {:>10.1} ns/op   (min {:.1}, max {:.1})", ns[ns.len() / 2], ns[0], ns[ns.len() - 1]);
}

fn chain(n: usize, domain: &Arc<virsnap_core::xml::Element>) -> SnapshotTree {
    let mut t = SnapshotTree::new();
    for i in 0..n {
        let def = SnapshotDef {
            name: Some(format!("s{i}")),
            parent: (i > 0).then(|| format!("s{}", i - 1)),
            state: Some(SnapshotState::Running),
            creation_time: 1_700_000_000 + i as i64,
            domain: Some(domain.clone()),
            ..SnapshotDef::default()
        };
        t.insert(def, true).expect("insert");
    }
    t
}

fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(7);
    let domain_xml = virsnap_core::drivers::test::DEFAULT_DOMAIN_XML;
    let domain = Arc::new(parse_document(domain_xml, "domain_definition", ErrorDomain::Domain).expect("domain"));
    let small = "<domainsnapshot><name>s1</name><description>d</description></domainsnapshot>";
    let tree = chain(1, &domain);
    let def = tree.get("s0").expect("s0").clone();
    let full = format_snapshot(&def, None, FormatFlags::default());
    println!("# virsnap-core micro-benchmarks, median of {rounds} rounds (snapshot XML {} bytes)", full.len());

    measure("xml: parse <domainsnapshot> (create input)", rounds, N, || {
        for _ in 0..N {
            black_box(parse_snapshot(black_box(small), ParseFlags::default()).expect("parse"));
        }
    });
    measure("xml: parse full snapshot XML (redefine)", rounds, N / 10, || {
        for _ in 0..N / 10 {
            black_box(parse_snapshot(black_box(&full), ParseFlags { redefine: true, internal: false }).expect("parse"));
        }
    });
    measure("xml: parse <domain> element tree", rounds, N / 10, || {
        for _ in 0..N / 10 {
            black_box(parse_document(black_box(domain_xml), "d", ErrorDomain::Domain).expect("parse"));
        }
    });
    measure("xml: format snapshot (domain formatted)", rounds, N, || {
        for _ in 0..N {
            black_box(format_snapshot(black_box(&def), None, FormatFlags::default()));
        }
    });
    let text = {
        let mut s = String::new();
        domain.write_libvirt(&mut s, 2);
        s
    };
    measure("xml: format snapshot (domain text cached)", rounds, N, || {
        for _ in 0..N {
            black_box(virsnap_core::xml::format_snapshot_with(black_box(&def), None, FormatFlags::default(), Some(&text)));
        }
    });
    measure("tree: insert (chain of 10k, incl. build)", rounds, N, || {
        black_box(chain(N, &domain));
    });
    let t = chain(N, &domain);
    let names: Vec<String> = (0..N).map(|i| format!("s{}", (i * 7919) % N)).collect();
    measure("tree: get by name (random order)", rounds, N, || {
        for n in &names {
            black_box(t.get(n));
        }
    });
    // Each lookup's address depends on the previous result, so cache misses
    // are not overlapped (as in a C caller doing real work between calls).
    for n in [1_000, 100_000] {
        let t = chain(n, &domain);
        let names: Vec<String> = (0..n).map(|i| format!("s{}", (i * 7919) % n)).collect();
        let zero = black_box(0usize);
        measure(&format!("tree: shared_name, random, dependent, n={n}"), rounds, n, || {
            let mut dep = 0;
            for i in 0..n {
                dep = t.shared_name(&names[i + dep * zero]).map_or(0, |s| s.as_bytes().len());
            }
            black_box(dep);
        });
    }
    measure("tree: list names, creation order (per name)", rounds, N, || {
        black_box(t.list(0));
    });
    measure("tree: list TOPOLOGICAL (per name)", rounds, N, || {
        black_box(t.list(list::TOPOLOGICAL));
    });
    measure("tree: count (per snapshot)", rounds, N, || {
        black_box(t.count(0));
    });
    measure("tree: remove_subtree of root, 10k (per node)", rounds, N, || {
        let mut t = t.clone();
        black_box(t.remove_subtree("s0", false).expect("remove"));
    });
    measure("tree: clone 10k (baseline for the line above)", rounds, N, || {
        black_box(t.clone());
    });
}
