//! Drivers are cargo features of virsnap-core (`qemu`, `esx`, `vbox`, on by
//! default; `test` always). An URI of a driver that is compiled out gets
//! libvirt's `VIR_ERR_NO_CONNECT` "no connection driver available for URI",
//! as an unknown scheme does. `.ci/suites/cli.sh` runs this test built with
//! `--no-default-features`; with the defaults it checks the unknown scheme
//! and that `test:///default` opens.

use virsnap_core::{Connection, ErrorCode, ErrorDomain};

fn assert_no_driver(uri: &str) {
    match Connection::open(Some(uri)) {
        Ok(_) => panic!("{uri} opened"),
        Err(e) => {
            assert_eq!((e.code, e.domain), (ErrorCode::NoConnect, ErrorDomain::None), "{uri}: {e:?}");
            assert_eq!(e.message, format!("no connection driver available for {uri}"), "{uri}");
        }
    }
}

#[test]
fn compiled_out_drivers_have_no_connection_driver() {
    assert_no_driver("foo:///x");
    let drivers = [
        ("qemu:///embed?root=/nonexistent/virsnap-feature-test", cfg!(feature = "qemu")),
        ("esx://127.0.0.1:9/?no_verify=1", cfg!(feature = "esx")),
        ("vpx://127.0.0.1:9/dc/host?no_verify=1", cfg!(feature = "esx")),
        ("vbox:///session", cfg!(feature = "vbox")),
    ];
    for (uri, built) in drivers {
        if !built {
            assert_no_driver(uri);
        }
    }
    assert!(Connection::open(Some("test:///default")).is_ok());
}
