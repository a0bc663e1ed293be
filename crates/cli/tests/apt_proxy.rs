//! A test host, which has no route out, installs a Debian package with apt through the test
//! proxy (common/apt_proxy.rs), so tests can prove fixes that install packages.

mod common;

use std::process::Command;
use std::time::Instant;

use common::apt_proxy::{AptProxy, apt_via_proxy};
use common::*;

#[test]
fn a_test_host_installs_a_package_through_the_apt_proxy() {
    if !fleet_available() {
        return;
    }
    let proxy = AptProxy::start();
    let (mut fleet, _key) = Fleet::with_key();
    fleet.up_root(187, |root| apt_via_proxy(root, proxy.port()));
    let installed = || {
        let out =
            Command::new(testfleet("host.sh")).args(["run", "187", "dpkg", "-s", "telnet"]).output().unwrap();
        out.status.success() && text(&out.stdout).contains("Status: install ok installed")
    };
    assert!(!installed(), "the test base already has telnet: pick a package it lacks");

    let t = Instant::now();
    host_sh(&["run", "187", "/bin/sh", "-c", "apt-get update -q --error-on=any"]);
    let update = t.elapsed();
    let t = Instant::now();
    host_sh(&[
        "run",
        "187",
        "/bin/sh",
        "-c",
        "DEBIAN_FRONTEND=noninteractive apt-get install -q -y --no-install-recommends telnet",
    ]);
    let install = t.elapsed();

    assert!(installed(), "telnet is not installed on h187 after apt-get install");
    assert!(proxy.requests() > 0, "apt's requests did not go through the proxy");
    eprintln!(
        "apt-get update: {} ms, apt-get install telnet: {} ms, {} requests through the proxy",
        update.as_millis(),
        install.as_millis(),
        proxy.requests()
    );
}
