//! Kafka credentials survive Strimzi's certificate renewals without a deploy in between (F4 of
//! the Kubernetes review): the workload clusters hold copies of the cluster CA certificate and
//! of their KafkaUser's certificate, made by each deploy. The rendered `Kafka` makes Strimzi
//! renew with the same key (`renew-certificate`) and long, explicit periods, so
//!
//! - a renewed broker certificate still verifies against a copy of the CA certificate made
//!   before the renewal, and a renewed clients CA still accepts a user certificate made before
//!   (shown here with real X.509 certificates and `openssl verify`, where `replace-key`, the
//!   other policy, breaks both); and
//! - whenever a deploy copies them, the copies are valid for at least `renewalDays` (five years)
//!   more, whatever Strimzi renews in between (the timeline below).

mod common;

use std::path::Path;
use std::process::Command;

use flotilla_helm::manifests;

fn kafka(platform: &flotilla_model::Platform) -> serde_json::Value {
    manifests(platform, platform.controlplane())
        .into_iter()
        .flat_map(|m| m.objects)
        .find(|o| o["kind"] == "Kafka")
        .expect("the controlplane has a Kafka")
}

#[test]
fn the_kafka_resource_states_its_renewal_periods() {
    for (name, platform) in common::fixtures() {
        let k = kafka(&platform);
        for ca in ["clusterCa", "clientsCa"] {
            let c = &k["spec"][ca];
            assert_eq!(c["generateCertificateAuthority"], true, "{name}: {ca}");
            assert_eq!(c["validityDays"], 3650, "{name}: {ca}");
            assert_eq!(c["renewalDays"], 1825, "{name}: {ca}");
            assert_eq!(
                c["certificateExpirationPolicy"], "renew-certificate",
                "{name}: {ca}"
            );
        }
    }
}

/// Days a copy made on `day` is still valid, when the certificate Strimzi holds was issued on
/// day 0 and Strimzi renews it `renewal` days before it expires (from then on, the copy is the
/// new one).
fn copy_lifetime(day: u32, validity: u32, renewal: u32) -> u32 {
    let renew_every = validity - renewal;
    let issued = day - day % renew_every;
    issued + validity - day
}

#[test]
fn a_copy_made_by_any_deploy_outlives_the_renewal_period() {
    let (validity, renewal) = (
        flotilla_helm::kafka_ca_periods().0,
        flotilla_helm::kafka_ca_periods().1,
    );
    let min = (0..4 * validity)
        .map(|day| copy_lifetime(day, validity, renewal))
        .min()
        .unwrap();
    assert_eq!(min, renewal + 1, "a copy made the day before a renewal");
    assert!(min >= 5 * 365);
}

fn openssl(dir: &Path, args: &[&str]) -> bool {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    out.status.success()
}

fn must(dir: &Path, args: &[&str]) {
    assert!(openssl(dir, args), "openssl {args:?} failed");
}

/// A CA certificate for `key` (a renewal under `renew-certificate` keeps the key).
fn ca(dir: &Path, key: &str, out: &str, serial: &str) {
    must(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            key,
            "-out",
            out,
            "-days",
            "3650",
            "-subj",
            "/O=io.strimzi/CN=cluster-ca v0",
            "-set_serial",
            serial,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
        ],
    );
}

/// A leaf certificate (a broker's or a user's) signed by `ca`/`ca_key`.
fn leaf(dir: &Path, name: &str, ca: &str, ca_key: &str) {
    must(dir, &["genrsa", "-out", &format!("{name}.key"), "2048"]);
    must(
        dir,
        &[
            "req",
            "-new",
            "-key",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={name}"),
        ],
    );
    must(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            ca,
            "-CAkey",
            ca_key,
            "-CAcreateserial",
            "-out",
            &format!("{name}.crt"),
            "-days",
            "3650",
        ],
    );
}

fn verifies(dir: &Path, ca: &str, cert: &str) -> bool {
    openssl(dir, &["verify", "-CAfile", ca, cert])
}

#[test]
fn a_renewal_with_the_same_key_keeps_earlier_copies_valid() {
    let Some(_) = flotilla_testkit::tool("openssl", None, "apt-get install openssl") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    must(d, &["genrsa", "-out", "ca.key", "2048"]);
    ca(d, "ca.key", "ca-v0.crt", "1");
    leaf(d, "broker-v0", "ca-v0.crt", "ca.key");
    leaf(d, "user-v0", "ca-v0.crt", "ca.key");
    assert!(verifies(d, "ca-v0.crt", "broker-v0.crt"));
    // The deploy copied ca-v0.crt and user-v0 to a workload cluster. Strimzi renews: a new CA
    // certificate for the same key, new broker and user certificates.
    ca(d, "ca.key", "ca-v1.crt", "2");
    leaf(d, "broker-v1", "ca-v1.crt", "ca.key");
    // The client's copy of the old CA certificate verifies the renewed broker.
    assert!(
        verifies(d, "ca-v0.crt", "broker-v1.crt"),
        "renew-certificate"
    );
    // The broker, on the renewed clients CA, still accepts the client's old user certificate.
    assert!(verifies(d, "ca-v1.crt", "user-v0.crt"), "renew-certificate");
    // With `replace-key` the CA key changes, and the copies no longer verify: why the
    // Kafka resource names its policy.
    must(d, &["genrsa", "-out", "ca2.key", "2048"]);
    ca(d, "ca2.key", "ca-v2.crt", "3");
    leaf(d, "broker-v2", "ca-v2.crt", "ca2.key");
    assert!(
        !verifies(d, "ca-v0.crt", "broker-v2.crt"),
        "replace-key breaks the copy"
    );
    assert!(
        !verifies(d, "ca-v2.crt", "user-v0.crt"),
        "replace-key breaks the user"
    );
}
