//! The engine end to end against recording stand-ins for terraform, helm and kubectl, and
//! in-memory fakes for AWS and Kubernetes: ordering, overlap, failure, resume, interrupt,
//! dry-run, destroy, the secret wiring and readiness timeouts.

use crate::support;
use flotilla_testkit::git;

use std::sync::Arc;
use std::time::{Duration, Instant};

use flotilla_deploy::journal::{self, Journal, RunState, Status};
use flotilla_deploy::{DeployArgs, DestroyArgs, deploy, destroy};
use support::{Behaviour, FakeAws, FakeKube, StandIns};

fn args(target: &str) -> DeployArgs {
    let mut a = DeployArgs::new(target);
    a.yes = true;
    a.jobs = 4;
    a.timeouts = support::quick();
    a
}

fn aws_with_receivers() -> FakeAws {
    FakeAws {
        secrets: [("duo/smtp".to_string(), "smtp-password-value".to_string())].into(),
        ..FakeAws::default()
    }
}

/// Engine IO with a fresh fake Kubernetes and the stand-ins as tools.
fn io_without_kube_state(aws: FakeAws, stand: &StandIns) -> flotilla_deploy::Io {
    support::io(aws, Arc::new(FakeKube::default()), stand.tools())
}

fn latest(root: &std::path::Path, target: &str) -> Journal {
    journal::latest(root, "deploy", target).unwrap().unwrap().1
}

/// `terraform:qa`, `helm:qa:fluent-bit`, ...
fn of_qa(id: &str) -> bool {
    id.split(':').nth(1) == Some("qa")
}

fn status(j: &Journal, id: &str) -> Status {
    j.step(&flotilla_plan::graph::StepId(id.into()))
        .unwrap_or_else(|| panic!("{id} not in the journal"))
        .status
}

#[test]
fn deploy_all_runs_in_dependency_order_with_overlap_and_wires_secrets() {
    let p = support::two_envs();
    let repo = support::scratch_repo(&p);
    let stand = StandIns::new(
        repo.path(),
        &Behaviour {
            sleep: 0.2,
            ..Behaviour::default()
        },
    );
    let kube = Arc::new(FakeKube::default());
    // A fresh account: no state bucket yet, so `deploy all` creates it first.
    let aws = FakeAws {
        missing_buckets: [p.state_bucket.clone()].into(),
        ..aws_with_receivers()
    };
    let io = support::io(aws, kube.clone(), stand.tools());
    let mut out = Vec::new();
    let code = deploy(repo.path(), &p, &args("all"), &io, &mut out).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("deploy all: done"), "{out}");

    let calls = stand.calls();
    let starts: Vec<_> = calls.iter().filter(|c| c.event == "start").collect();
    let ends: Vec<_> = calls.iter().filter(|c| c.event == "end").collect();
    // Every call ran from the repository root.
    let root = repo.path().canonicalize().unwrap();
    assert!(
        starts
            .iter()
            .all(|c| std::path::Path::new(&c.cwd_or_code) == root)
    );
    // Terraform per module: init, plan -out, show -json, apply of exactly that plan.
    for m in [
        "bootstrap",
        "controlplane",
        "dev",
        "qa",
        "dev/link",
        "qa/link",
    ] {
        let subs: Vec<String> = starts
            .iter()
            .filter(|c| c.tool == "terraform" && c.module().as_deref() == Some(m))
            .map(|c| c.sub())
            .collect();
        let subs: Vec<&str> = subs.iter().map(String::as_str).collect();
        assert_eq!(
            &subs[..4],
            ["init", "plan", "show", "apply"],
            "{m}: {subs:?}"
        );
        let plan = starts
            .iter()
            .find(|c| c.module().as_deref() == Some(m) && c.sub() == "plan")
            .unwrap();
        let out_file = plan
            .args
            .split_whitespace()
            .find_map(|a| a.strip_prefix("-out="))
            .unwrap();
        let apply = starts
            .iter()
            .find(|c| c.module().as_deref() == Some(m) && c.sub() == "apply")
            .unwrap();
        assert!(apply.args.ends_with(out_file), "apply uses the saved plan");
    }
    let end_of = |m: &str, sub: &str| {
        ends.iter()
            .find(|c| c.tool == "terraform" && c.module().as_deref() == Some(m) && c.sub() == sub)
            .unwrap()
            .at
    };
    let start_of = |m: &str, sub: &str| {
        starts
            .iter()
            .find(|c| c.tool == "terraform" && c.module().as_deref() == Some(m) && c.sub() == sub)
            .unwrap()
            .at
    };
    // The bootstrap, then every cluster module at once (a cluster module reads no other
    // state), then each workload's link once its cluster and the controlplane are applied.
    assert!(end_of("bootstrap", "apply") <= start_of("controlplane", "init"));
    for w in ["dev", "qa"] {
        assert!(end_of("bootstrap", "apply") <= start_of(w, "init"));
        assert!(
            start_of(w, "init") < end_of("controlplane", "apply"),
            "{w} overlaps the controlplane"
        );
        let link = format!("{w}/link");
        assert!(end_of("controlplane", "apply") <= start_of(&link, "init"));
        assert!(end_of(w, "apply") <= start_of(&link, "init"));
    }
    // dev and qa are independent: their Terraform runs overlap in time.
    assert!(start_of("dev", "init") < end_of("qa", "apply"));
    assert!(start_of("qa", "init") < end_of("dev", "apply"));

    // Helm releases of a cluster in their order of needs, after its namespaces.
    let helm: Vec<_> = starts.iter().filter(|c| c.tool == "helm").collect();
    for c in &p.clusters {
        for r in flotilla_helm::releases(&p, c) {
            let me = helm
                .iter()
                .find(|h| {
                    h.args.contains(&format!("--install {} ", r.name))
                        && h.args.contains(&format!("/helm/{}/", c.name))
                })
                .unwrap_or_else(|| panic!("release {} of {} did not run", r.name, c.name));
            assert!(
                me.args.contains("--atomic --wait --timeout 5s"),
                "{}",
                me.args
            );
            for n in &r.needs {
                let need_end = ends
                    .iter()
                    .find(|h| {
                        h.tool == "helm"
                            && h.args.contains(&format!("--install {n} "))
                            && h.args.contains(&format!("/helm/{}/", c.name))
                    })
                    .unwrap();
                assert!(need_end.at <= me.at, "{n} before {}", r.name);
            }
        }
    }
    // The CRD bundle went through kubectl server-side apply.
    assert!(starts.iter().any(|c| c.tool == "kubectl"
        && c.args.starts_with(
            "apply --server-side --field-manager=flotilla --force-conflicts -f https://"
        )));

    // Kafka credentials: the controlplane KafkaUser Secret, copied into each workload cluster.
    for env in ["dev", "qa"] {
        let src = kube
            .object(
                "controlplane",
                &format!("/api/v1/namespaces/kafka/secrets/fluent-bit-{env}"),
            )
            .expect("Strimzi (the fake) wrote the KafkaUser Secret");
        let dst = kube
            .object(env, "/api/v1/namespaces/logging/secrets/kafka-client")
            .expect("copied");
        assert_eq!(src["data"], dst["data"]);
        assert_eq!(
            dst["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "flotilla"
        );
        let ca = kube
            .object(env, "/api/v1/namespaces/logging/secrets/kafka-cluster-ca")
            .expect("cluster CA copied");
        assert_eq!(ca["data"]["ca.crt"], "Y2EtY2VydA==");
    }
    // Receiver credentials from Secrets Manager into the controlplane.
    let receiver = kube
        .object(
            "controlplane",
            "/api/v1/namespaces/monitoring/secrets/alertmanager-receiver-oncall",
        )
        .expect("receiver secret");
    assert_eq!(
        receiver["data"]["credentials"],
        "c210cC1wYXNzd29yZC12YWx1ZQ=="
    );
    // Every object was applied with the cluster's own token.
    for (cluster, token) in kube.tokens.lock().unwrap().iter() {
        assert_eq!(token, &format!("k8s-aws-v1.fake-eks-{cluster}"));
    }
    let j = latest(repo.path(), "all");
    assert_eq!(j.state, RunState::Finished);
    assert!(j.steps.iter().all(|s| s.status == Status::Succeeded));
}

#[test]
fn a_failure_skips_exactly_its_dependents_and_resume_completes_the_rest() {
    let p = support::two_envs();
    let repo = support::scratch_repo(&p);
    let failing = StandIns::new(
        repo.path(),
        &Behaviour {
            fail: Some("-chdir=infra/qa apply".into()),
            ..Behaviour::default()
        },
    );
    let kube = Arc::new(FakeKube::default());
    let io = support::io(aws_with_receivers(), kube.clone(), failing.tools());
    let mut out = Vec::new();
    let code = deploy(repo.path(), &p, &args("all"), &io, &mut out).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("continue with `cargo xtask deploy all --resume`"),
        "{out}"
    );
    let j = latest(repo.path(), "all");
    assert_eq!(status(&j, "terraform:qa"), Status::Failed);
    let qa_after: Vec<_> = j
        .steps
        .iter()
        .filter(|s| of_qa(s.id.as_str()) && s.id.as_str() != "terraform:qa")
        .collect();
    assert!(!qa_after.is_empty());
    assert!(
        qa_after.iter().all(|s| s.status == Status::Skipped),
        "{qa_after:?}"
    );
    // Everything else, dev included, succeeded.
    for s in j.steps.iter().filter(|s| !of_qa(s.id.as_str())) {
        assert_eq!(s.status, Status::Succeeded, "{}", s.id);
    }
    // The summary table names the failed step and its log; the log has the tool's stderr.
    let failed = j
        .step(&flotilla_plan::graph::StepId("terraform:qa".into()))
        .unwrap();
    let log = failed.log.as_ref().unwrap();
    assert!(
        out.contains("terraform:qa") && out.contains(log.as_str()),
        "{out}"
    );
    let log_text = std::fs::read_to_string(repo.path().join(log)).unwrap();
    assert!(
        log_text.contains("stand-in: failing on demand"),
        "{log_text}"
    );

    // Resume with the failure gone: only qa's steps (and the reads they need) run.
    let before = failing.calls().len();
    let fixed = StandIns::new(&repo.path().join("fixed"), &Behaviour::default());
    let io = support::io(aws_with_receivers(), kube, fixed.tools());
    let mut a = args("all");
    a.resume = true;
    let mut out = Vec::new();
    let code = deploy(repo.path(), &p, &a, &io, &mut out).unwrap();
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&out));
    assert_eq!(
        failing.calls().len(),
        before,
        "the first stand-ins are not used again"
    );
    let modules: std::collections::BTreeSet<String> = fixed
        .starts()
        .iter()
        .filter(|c| c.tool == "terraform" && c.sub() != "output")
        .filter_map(|c| c.module())
        .collect();
    assert_eq!(
        modules,
        ["qa".to_string(), "qa/link".to_string()].into(),
        "only qa's Terraform (its cluster module and then its link) runs again"
    );
    let helm_clusters: std::collections::BTreeSet<bool> = fixed
        .starts()
        .iter()
        .filter(|c| c.tool == "helm")
        .map(|c| c.args.contains("/helm/qa/"))
        .collect();
    assert_eq!(helm_clusters, [true].into(), "only qa's releases run");
    let j2 = latest(repo.path(), "all");
    assert_eq!(status(&j2, "terraform:dev"), Status::Reused);
    assert_eq!(
        status(&j2, "helm:controlplane:strimzi-kafka-operator"),
        Status::Reused
    );
    assert_eq!(status(&j2, "terraform:qa"), Status::Succeeded);
    assert_eq!(status(&j2, "smoke:qa"), Status::Succeeded);
}

#[test]
fn an_interrupt_forwards_to_the_running_process_and_leaves_a_consistent_journal() {
    let p = support::two_envs();
    let repo = support::scratch_repo(&p);
    let stand = StandIns::new(
        repo.path(),
        &Behaviour {
            hang: Some("-chdir=infra/dev apply".into()),
            ..Behaviour::default()
        },
    );
    let io = io_without_kube_state(aws_with_receivers(), &stand);
    let cancel = io.cancel.clone();
    let started = Instant::now();
    let (code, _) = std::thread::scope(|s| {
        s.spawn(|| {
            // Interrupt once the hanging apply has started.
            while Instant::now() - started < Duration::from_secs(20) {
                if stand
                    .starts()
                    .iter()
                    .any(|c| c.module().as_deref() == Some("dev") && c.sub() == "apply")
                {
                    std::thread::sleep(Duration::from_millis(200));
                    cancel.interrupt();
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let mut out = Vec::new();
        let code = deploy(repo.path(), &p, &args("all"), &io, &mut out).unwrap();
        (code, out)
    });
    assert_eq!(
        code,
        i32::from(flotilla_plan::exit::INTERRUPTED),
        "an interrupted run exits 130"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the hanging process was stopped"
    );
    // The stand-in got SIGINT (its trap logged it).
    assert!(
        stand
            .calls()
            .iter()
            .any(|c| c.event == "interrupted" && c.args.contains("-chdir=infra/dev apply"))
    );
    let j = latest(repo.path(), "all");
    assert_eq!(j.state, RunState::Interrupted);
    assert_eq!(status(&j, "terraform:dev"), Status::Interrupted);
    assert_eq!(status(&j, "access:dev"), Status::NotRun);
    assert!(
        j.steps
            .iter()
            .all(|s| !matches!(s.status, Status::Pending | Status::Running))
    );
    // Nothing of dev ran after the interrupt.
    assert!(
        !stand
            .starts()
            .iter()
            .any(|c| c.tool == "helm" && c.args.contains("/helm/dev/"))
    );
}

#[test]
fn dry_run_runs_nothing_and_needs_no_tools() {
    let p = support::two_envs();
    let repo = support::scratch_repo(&p);
    let stand = StandIns::new(repo.path(), &Behaviour::default());
    let mut io = support::io(
        FakeAws::default(),
        Arc::new(FakeKube::default()),
        Default::default(),
    );
    io.tools.clear();
    let mut a = args("dev");
    a.dry_run = true;
    let mut out = Vec::new();
    let code = deploy(repo.path(), &p, &a, &io, &mut out).unwrap();
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&out));
    let out = String::from_utf8(out).unwrap();
    assert!(stand.calls().is_empty());
    assert!(!repo.path().join(".flotilla").exists(), "nothing written");
    assert!(out.contains("nothing is run, nothing is written"), "{out}");
    assert!(
        out.contains("generated output (infra/, helm/): up to date"),
        "{out}"
    );
    assert!(
        out.contains("terraform -chdir=infra/dev plan -input=false -no-color -out="),
        "{out}"
    );
    assert!(out.contains("helm upgrade --install fluent-bit"), "{out}");
    assert!(out.contains("aws eks DescribeCluster"), "{out}");
    assert!(
        out.contains("/api/v1/namespaces/"),
        "manifests list their objects: {out}"
    );
}

#[test]
fn without_yes_and_without_a_terminal_nothing_runs() {
    let p = support::two_envs();
    let repo = support::scratch_repo(&p);
    let stand = StandIns::new(repo.path(), &Behaviour::default());
    let io = io_without_kube_state(FakeAws::default(), &stand);
    let mut a = args("dev");
    a.yes = false;
    let err = deploy(repo.path(), &p, &a, &io, &mut Vec::new()).unwrap_err();
    assert!(
        err.to_string().contains("needs --yes when not interactive"),
        "{err}"
    );
    assert!(stand.calls().is_empty());
}

#[test]
fn an_environment_deploy_stops_when_the_controlplane_is_not_current() {
    let p = support::two_envs();
    let repo = support::scratch_repo(&p);
    let stand = StandIns::new(
        repo.path(),
        &Behaviour {
            verify_exit: 2,
            ..Behaviour::default()
        },
    );
    let io = io_without_kube_state(aws_with_receivers(), &stand);
    let mut out = Vec::new();
    assert_eq!(
        deploy(repo.path(), &p, &args("dev"), &io, &mut out).unwrap(),
        1
    );
    let j = latest(repo.path(), "dev");
    // No local bootstrap state here: the state bucket's existence (HeadBucket) is the check.
    assert_eq!(status(&j, "verify:bootstrap"), Status::Succeeded);
    let verify = j
        .step(&flotilla_plan::graph::StepId("verify:controlplane".into()))
        .unwrap();
    assert_eq!(verify.status, Status::Failed);
    let m = verify.message.as_ref().unwrap();
    assert!(
        m.contains("infra/controlplane has changes pending")
            && m.contains("`cargo xtask deploy controlplane`")
            && m.contains("--with-dependencies"),
        "{verify:?}"
    );
    assert_eq!(status(&j, "access:controlplane"), Status::Skipped);
    assert!(
        !stand
            .starts()
            .iter()
            .any(|c| c.module().as_deref() == Some("dev"))
    );
}

#[test]
fn readiness_times_out_with_a_clear_error() {
    let p = support::two_envs();
    let repo = support::scratch_repo(&p);
    let stand = StandIns::new(repo.path(), &Behaviour::default());
    let kube = Arc::new(FakeKube {
        never_ready: ["Kafka".to_string()].into(),
        ..FakeKube::default()
    });
    let io = support::io(aws_with_receivers(), kube, stand.tools());
    let started = Instant::now();
    let mut out = Vec::new();
    assert_eq!(
        deploy(repo.path(), &p, &args("controlplane"), &io, &mut out).unwrap(),
        1
    );
    assert!(started.elapsed() < Duration::from_secs(15));
    let j = latest(repo.path(), "controlplane");
    let r = j
        .step(&flotilla_plan::graph::StepId(
            "readiness:controlplane".into(),
        ))
        .unwrap();
    assert_eq!(r.status, Status::Failed);
    let m = r.message.as_ref().unwrap();
    assert!(m.contains("not ready after 1s"), "{m}");
    assert!(
        m.contains("Kafka kafka/flotilla (Ready=False operator still working)"),
        "{m}"
    );
    assert_eq!(status(&j, "smoke:controlplane"), Status::Skipped);
}

/// The fake Kubernetes, with the time of each apply on the stand-ins' clock (Unix seconds)
/// and Secrets that never appear (an operator that does not write them).
struct Timed {
    inner: Arc<FakeKube>,
    applies: std::sync::Mutex<Vec<(f64, String)>>,
    hidden: Vec<String>,
}

impl Timed {
    fn new(inner: Arc<FakeKube>, hidden: &[&str]) -> Arc<Timed> {
        Arc::new(Timed {
            inner,
            applies: Default::default(),
            hidden: hidden.iter().map(|s| s.to_string()).collect(),
        })
    }

    /// When the object with this API path was first applied.
    fn applied(&self, path: &str) -> f64 {
        self.applies
            .lock()
            .unwrap()
            .iter()
            .find(|(_, p)| p == path)
            .unwrap_or_else(|| panic!("{path} was not applied"))
            .0
    }
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

struct SharedTimed(Arc<Timed>);

impl flotilla_deploy::kube::Kube for SharedTimed {
    fn apply(
        &self,
        c: &flotilla_deploy::kube::Conn,
        o: &serde_json::Value,
        d: bool,
    ) -> Result<serde_json::Value, flotilla_deploy::kube::KubeError> {
        let path = flotilla_deploy::kube::ObjectRef::of(o).unwrap().path();
        self.0.applies.lock().unwrap().push((now(), path));
        self.0.inner.apply(c, o, d)
    }
    fn get(
        &self,
        c: &flotilla_deploy::kube::Conn,
        o: &flotilla_deploy::kube::ObjectRef,
    ) -> Result<Option<serde_json::Value>, flotilla_deploy::kube::KubeError> {
        if self.0.hidden.contains(&o.name) {
            return Ok(None);
        }
        self.0.inner.get(c, o)
    }
    fn list(
        &self,
        c: &flotilla_deploy::kube::Conn,
        a: &str,
        k: &str,
        n: Option<&str>,
    ) -> Result<Vec<serde_json::Value>, flotilla_deploy::kube::KubeError> {
        self.0.inner.list(c, a, k, n)
    }
    fn delete(
        &self,
        c: &flotilla_deploy::kube::Conn,
        o: &flotilla_deploy::kube::ObjectRef,
    ) -> Result<(), flotilla_deploy::kube::KubeError> {
        self.0.inner.delete(c, o)
    }
    fn version(
        &self,
        c: &flotilla_deploy::kube::Conn,
    ) -> Result<String, flotilla_deploy::kube::KubeError> {
        self.0.inner.version(c)
    }
}

/// `helm upgrade --install <release>` of the controlplane: (start, end) on the stand-ins' clock.
fn helm_span(stand: &StandIns, release: &str) -> (f64, f64) {
    let calls = stand.calls();
    let find = |event: &str| {
        calls
            .iter()
            .find(|c| {
                c.event == event
                    && c.tool == "helm"
                    && c.args.contains(&format!("--install {release} "))
                    && c.args.contains("/helm/controlplane/")
            })
            .map(|c| c.at)
            .unwrap_or_else(|| panic!("helm {event} of {release} not recorded"))
    };
    (find("start"), find("end"))
}

#[test]
fn a_first_controlplane_deploy_applies_the_elasticsearch_and_kafka_between_operator_and_readers() {
    let p = support::two_envs();
    let repo = support::scratch_repo(&p);
    let stand = StandIns::new(
        repo.path(),
        &Behaviour {
            sleep: 0.05,
            ..Behaviour::default()
        },
    );
    // An empty cluster: ECK's Secrets appear only when the Elasticsearch is applied.
    let kube = Timed::new(Arc::new(FakeKube::default()), &[]);
    let mut io = io_without_kube_state(aws_with_receivers(), &stand);
    io.kube = Box::new(SharedTimed(kube.clone()));
    let mut out = Vec::new();
    let code = deploy(repo.path(), &p, &args("controlplane"), &io, &mut out).unwrap();
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&out));

    let es = kube.applied(
        "/apis/elasticsearch.k8s.elastic.co/v1/namespaces/observability/elasticsearches/flotilla",
    );
    let (_, eck_end) = helm_span(&stand, "eck-operator");
    assert!(eck_end <= es, "the Elasticsearch after the ECK operator");
    for reader in ["grafana", "prometheus-elasticsearch-exporter"] {
        let (start, _) = helm_span(&stand, reader);
        assert!(es <= start, "{reader} after the Elasticsearch");
    }
    let kafka = kube.applied("/apis/kafka.strimzi.io/v1/namespaces/kafka/kafkas/flotilla");
    let (_, strimzi_end) = helm_span(&stand, "strimzi-kafka-operator");
    assert!(strimzi_end <= kafka, "the Kafka after the Strimzi operator");
    let j = latest(repo.path(), "controlplane");
    for id in [
        "resources:controlplane:30-kafka",
        "resources:controlplane:31-elastic",
    ] {
        assert_eq!(status(&j, id), Status::Succeeded, "{id}");
    }
}

#[test]
fn a_release_waits_for_the_secrets_an_operator_writes_and_names_the_missing_one() {
    let p = support::two_envs();
    let repo = support::scratch_repo(&p);
    let stand = StandIns::new(repo.path(), &Behaviour::default());
    // ECK never writes the `elastic` user's Secret.
    let kube = Timed::new(Arc::new(FakeKube::default()), &["flotilla-es-elastic-user"]);
    let mut io = io_without_kube_state(aws_with_receivers(), &stand);
    io.kube = Box::new(SharedTimed(kube));
    let mut out = Vec::new();
    let code = deploy(repo.path(), &p, &args("controlplane"), &io, &mut out).unwrap();
    assert_eq!(code, 1, "{}", String::from_utf8_lossy(&out));
    let j = latest(repo.path(), "controlplane");
    let grafana = j
        .step(&flotilla_plan::graph::StepId(
            "helm:controlplane:grafana".into(),
        ))
        .unwrap();
    assert_eq!(grafana.status, Status::Failed);
    let m = grafana.message.as_ref().unwrap();
    assert!(
        m.contains("Secret observability/flotilla-es-elastic-user not there after 1s"),
        "{m}"
    );
    // Helm never ran for it: no release left to roll back after a timeout.
    assert!(
        !stand
            .starts()
            .iter()
            .any(|c| c.tool == "helm" && c.args.contains("--install grafana "))
    );
    assert_eq!(
        status(&j, "helm:controlplane:eck-operator"),
        Status::Succeeded
    );
}

#[test]
fn a_missing_receiver_secret_fails_naming_it() {
    let p = support::two_envs();
    let repo = support::scratch_repo(&p);
    let stand = StandIns::new(repo.path(), &Behaviour::default());
    let io = io_without_kube_state(FakeAws::default(), &stand);
    let mut out = Vec::new();
    assert_eq!(
        deploy(repo.path(), &p, &args("controlplane"), &io, &mut out).unwrap(),
        1
    );
    let j = latest(repo.path(), "controlplane");
    let r = j
        .step(&flotilla_plan::graph::StepId(
            "receiver-credentials:controlplane".into(),
        ))
        .unwrap();
    assert_eq!(r.status, Status::Failed);
    assert!(r.message.as_ref().unwrap().contains("`duo/smtp`"), "{r:?}");
}

/// A `terraform plan -destroy` (the flag itself: run directories are named `...-destroy-<env>`).
fn is_destroy(c: &support::Call) -> bool {
    c.args.split_whitespace().any(|a| a == "-destroy")
}

#[test]
fn destroy_runs_in_reverse_and_refuses_protected_clusters_and_peered_controlplanes() {
    let p = support::two_envs();
    let repo = support::scratch_repo(&p);
    let stand = StandIns::new(repo.path(), &Behaviour::default());
    let kube = Arc::new(FakeKube::default());
    let io = support::io(aws_with_receivers(), kube.clone(), stand.tools());
    // Deploy dev first so there is something to delete.
    assert_eq!(
        deploy(repo.path(), &p, &args("all"), &io, &mut Vec::new()).unwrap(),
        0
    );
    let before = stand.calls().len();

    // --confirm must repeat the target.
    let mut d = DestroyArgs::new("dev", Some("qa"));
    d.yes = true;
    d.timeouts = support::quick();
    let err = destroy(repo.path(), &p, &d, &io, &mut Vec::new()).unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");

    let mut d = DestroyArgs::new("dev", Some("dev"));
    d.yes = true;
    d.timeouts = support::quick();
    let mut out = Vec::new();
    let code = destroy(repo.path(), &p, &d, &io, &mut out).unwrap();
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&out));
    let calls: Vec<_> = stand.calls().into_iter().skip(before).collect();
    let starts: Vec<_> = calls.iter().filter(|c| c.event == "start").collect();
    let helm: Vec<_> = starts.iter().filter(|c| c.tool == "helm").collect();
    let uninstall: Vec<_> = helm
        .iter()
        .filter(|c| c.args.starts_with("uninstall "))
        .collect();
    let releases = flotilla_helm::releases(&p, p.cluster("dev").unwrap());
    assert_eq!(uninstall.len(), releases.len());
    // Before anything is uninstalled, the releases whose load balancers carry deletion
    // protection are upgraded with the current values (protection off), and nothing else.
    let first_uninstall = uninstall.iter().map(|c| c.at).fold(f64::MAX, f64::min);
    let upgrades: Vec<_> = helm
        .iter()
        .filter(|c| !c.args.starts_with("uninstall "))
        .collect();
    let protecting: Vec<&str> = releases
        .iter()
        .filter(|r| r.holds_load_balancer_protection)
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(protecting, ["nginx-gateway-fabric"]);
    assert_eq!(upgrades.len(), protecting.len(), "{upgrades:?}");
    for u in &upgrades {
        assert!(
            u.args
                .starts_with("upgrade --install nginx-gateway-fabric "),
            "{}",
            u.args
        );
        assert!(u.at < first_uninstall);
    }
    // A release goes after every release that needs it.
    for r in &releases {
        let me = uninstall
            .iter()
            .find(|c| c.args.starts_with(&format!("uninstall {} ", r.name)))
            .unwrap();
        for n in &r.needs {
            let need = uninstall
                .iter()
                .find(|c| c.args.starts_with(&format!("uninstall {n} ")))
                .unwrap();
            assert!(me.at < need.at, "{} before {n}", r.name);
        }
    }
    // Custom resources were deleted first, Terraform destroy last.
    assert!(!kube.deletes.lock().unwrap().is_empty());
    let last_helm = uninstall.iter().map(|c| c.at).fold(0.0, f64::max);
    let tf: Vec<_> = starts
        .iter()
        .filter(|c| c.tool == "terraform" && c.module().as_deref() == Some("dev"))
        .collect();
    assert!(tf.iter().any(|c| c.sub() == "plan" && is_destroy(c)));
    // Terraform first applies the committed module (protection off), before any Helm step,
    // and destroys after the last uninstall.
    let first_helm = helm.iter().map(|c| c.at).fold(f64::MAX, f64::min);
    let unprotect: Vec<_> = tf
        .iter()
        .filter(|c| c.sub() == "plan" && !is_destroy(c))
        .collect();
    assert_eq!(unprotect.len(), 1, "{tf:?}");
    assert!(unprotect[0].at < first_helm);
    assert!(
        tf.iter()
            .filter(|c| c.sub() == "plan" && is_destroy(c))
            .all(|c| c.at >= last_helm)
    );
    // The link goes after the last uninstall and before the cluster module's destroy.
    let link_destroy: Vec<_> = starts
        .iter()
        .filter(|c| {
            c.tool == "terraform"
                && c.module().as_deref() == Some("dev/link")
                && c.sub() == "plan"
                && is_destroy(c)
        })
        .collect();
    assert_eq!(link_destroy.len(), 1, "the link is destroyed once");
    assert!(link_destroy[0].at >= last_helm);
    let cluster_destroy_end = calls
        .iter()
        .filter(|c| {
            c.event == "end"
                && c.tool == "terraform"
                && c.module().as_deref() == Some("dev/link")
                && c.sub() == "apply"
        })
        .map(|c| c.at)
        .fold(0.0, f64::max);
    assert!(
        tf.iter()
            .filter(|c| c.sub() == "plan" && is_destroy(c))
            .all(|c| c.at >= cluster_destroy_end),
        "the cluster module after its link"
    );
    assert!(!starts.iter().any(|c| c.module().as_deref() == Some("qa")));

    // The controlplane is refused while qa's link still has resources (its VPC is joined).
    let peered = StandIns::new(
        &repo.path().join("peered"),
        &Behaviour {
            state: vec!["qa/link".into()],
            ..Behaviour::default()
        },
    );
    let io = support::io(aws_with_receivers(), kube.clone(), peered.tools());
    let mut d = DestroyArgs::new("controlplane", Some("controlplane"));
    d.yes = true;
    let mut out = Vec::new();
    assert_eq!(destroy(repo.path(), &p, &d, &io, &mut out).unwrap(), 1);
    let j = journal::latest(repo.path(), "destroy", "controlplane")
        .unwrap()
        .unwrap()
        .1;
    let check = j
        .step(&flotilla_plan::graph::StepId(
            "check-peers:controlplane".into(),
        ))
        .unwrap();
    assert_eq!(check.status, Status::Failed);
    assert!(
        check
            .message
            .as_ref()
            .unwrap()
            .contains("qa (1 resources in infra/qa/link)"),
        "{check:?}"
    );
    assert!(
        !peered
            .starts()
            .iter()
            .any(|c| c.tool == "helm" || c.args.contains("-destroy"))
    );

    // A protected cluster is refused before anything runs.
    let seed = support::seed();
    let mut d = DestroyArgs::new("production", Some("production"));
    d.yes = true;
    let err = destroy(repo.path(), &seed, &d, &io, &mut Vec::new()).unwrap_err();
    assert!(err.to_string().contains("production is protected"), "{err}");
    // Its dry run says so, exits 1 as the real run would, and still previews the teardown
    // that runs once `protected = false` is merged (the deletion protection lifted first).
    let seed_repo = support::scratch_repo(&seed);
    d.dry_run = true;
    let mut out = Vec::new();
    assert_eq!(
        destroy(seed_repo.path(), &seed, &d, &io, &mut out).unwrap(),
        1
    );
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.starts_with("WOULD REFUSE: production is protected in platform.toml"),
        "{out}"
    );
    assert!(
        out.contains("generated output (infra/, helm/): up to date"),
        "{out}"
    );
    assert!(out.contains("unprotect:production"), "{out}");
}

#[test]
fn protected_clusters_deploy_only_from_a_clean_tree() {
    let p = support::seed();
    let repo = support::scratch_repo(&p);
    // Not a git repository with a clean tree: refused, nothing runs.
    let stand = StandIns::new(repo.path(), &Behaviour::default());
    let io = io_without_kube_state(FakeAws::default(), &stand);
    let mut a = args("production");
    let err = deploy(repo.path(), &p, &a, &io, &mut Vec::new()).unwrap_err();
    assert!(err.to_string().contains("production is protected"), "{err}");
    assert!(stand.calls().is_empty());
    // The override warns loudly and goes on.
    a.allow_dirty_protected = true;
    a.dry_run = false;
    let stand2 = StandIns::new(
        &repo.path().join("x"),
        &Behaviour {
            fail: Some("init".into()),
            ..Behaviour::default()
        },
    );
    let io = support::io(
        FakeAws::default().in_account("123456789012"),
        Arc::new(FakeKube::default()),
        stand2.tools(),
    );
    let mut out = Vec::new();
    let _ = deploy(repo.path(), &p, &a, &io, &mut out).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("WARNING: deploying protected production from a DIRTY git tree"),
        "{out}"
    );
    assert!(!stand2.calls().is_empty());
}

fn terraform_of(stand: &StandIns, module: &str) -> Vec<support::Call> {
    stand
        .starts()
        .into_iter()
        .filter(|c| c.tool == "terraform" && c.module().as_deref() == Some(module))
        .collect()
}

fn log_of(root: &std::path::Path, j: &Journal, id: &str) -> String {
    let rec = j
        .step(&flotilla_plan::graph::StepId(id.into()))
        .unwrap_or_else(|| panic!("{id} not in the journal"));
    std::fs::read_to_string(root.join(rec.log.as_ref().expect("has a log"))).unwrap()
}

#[test]
fn the_bootstrap_is_checked_by_its_local_state_or_else_by_the_state_bucket() {
    let p = support::two_envs();
    let repo = support::scratch_repo(&p);
    // A CI runner: no local state of infra/bootstrap, the bucket exists.
    let stand = StandIns::new(&repo.path().join("ci"), &Behaviour::default());
    let aws = Arc::new(aws_with_receivers());
    let mut io = support::io(
        FakeAws::default(),
        Arc::new(FakeKube::with_controlplane_for(&p, "dev")),
        stand.tools(),
    );
    io.aws = Box::new(support::SharedAws(aws.clone()));
    let mut out = Vec::new();
    let code = deploy(repo.path(), &p, &args("dev"), &io, &mut out).unwrap();
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&out));
    assert!(
        terraform_of(&stand, "bootstrap").is_empty(),
        "no Terraform without the local state"
    );
    assert!(
        aws.calls
            .lock()
            .unwrap()
            .contains(&"HeadBucket duo-111122223333-tfstate us-east-1".to_string())
    );
    let log = log_of(repo.path(), &latest(repo.path(), "dev"), "verify:bootstrap");
    assert!(
        log.contains("state bucket duo-111122223333-tfstate exists (checked with S3 HeadBucket in us-east-1; no local state infra/bootstrap/terraform.tfstate here"),
        "{log}"
    );

    // An operator's machine: the local state is there, so Terraform compares it and S3 is
    // not asked; pending changes stop the deploy before anything of dev runs.
    std::fs::write(
        repo.path().join("infra/bootstrap/terraform.tfstate"),
        r#"{"version":4}"#,
    )
    .unwrap();
    let stand = StandIns::new(
        &repo.path().join("operator"),
        &Behaviour {
            verify_exit: 2,
            ..Behaviour::default()
        },
    );
    let aws = Arc::new(aws_with_receivers());
    io.aws = Box::new(support::SharedAws(aws.clone()));
    io.tools = stand.tools();
    let mut out = Vec::new();
    let code = deploy(repo.path(), &p, &args("dev"), &io, &mut out).unwrap();
    assert_eq!(code, 1, "{}", String::from_utf8_lossy(&out));
    assert!(
        !aws.calls
            .lock()
            .unwrap()
            .iter()
            .any(|c| c.starts_with("HeadBucket")),
        "S3 was not asked"
    );
    let subs: Vec<String> = terraform_of(&stand, "bootstrap")
        .iter()
        .map(|c| c.args.clone())
        .collect();
    assert_eq!(subs.len(), 2, "{subs:?}");
    assert!(subs[1].ends_with("plan -input=false -no-color -lock=false -detailed-exitcode"));
    let j = latest(repo.path(), "dev");
    let m = j
        .step(&flotilla_plan::graph::StepId("verify:bootstrap".into()))
        .unwrap()
        .message
        .clone()
        .unwrap();
    assert!(
        m.contains("changes pending against its local state") && m.contains("--with-dependencies"),
        "{m}"
    );
    assert!(!m.contains("deploy bootstrap"), "not a target: {m}");
    assert!(terraform_of(&stand, "dev").is_empty());
    assert!(terraform_of(&stand, "controlplane").is_empty());
}

#[test]
fn a_missing_state_bucket_stops_an_environment_deploy_and_with_dependencies_creates_it() {
    let p = support::two_envs();
    let repo = support::scratch_repo(&p);
    let stand = StandIns::new(repo.path(), &Behaviour::default());
    let aws = Arc::new(FakeAws {
        missing_buckets: [p.state_bucket.clone()].into(),
        ..aws_with_receivers()
    });
    let mut io = support::io(
        FakeAws::default(),
        Arc::new(FakeKube::with_controlplane_for(&p, "dev")),
        stand.tools(),
    );
    io.aws = Box::new(support::SharedAws(aws.clone()));
    let mut out = Vec::new();
    assert_eq!(
        deploy(repo.path(), &p, &args("dev"), &io, &mut out).unwrap(),
        1
    );
    let j = latest(repo.path(), "dev");
    let m = j
        .step(&flotilla_plan::graph::StepId("verify:bootstrap".into()))
        .unwrap()
        .message
        .clone()
        .unwrap();
    assert!(
        m.contains("state bucket duo-111122223333-tfstate does not exist in us-east-1 (checked with S3 HeadBucket")
            && m.contains("pass --with-dependencies"),
        "{m}"
    );
    assert!(
        stand.starts().is_empty(),
        "nothing ran: {:?}",
        stand.starts()
    );
    // Everything after the bootstrap check was skipped (the preflight runs beside it).
    assert!(
        j.steps
            .iter()
            .filter(
                |s| s.id.as_str() != "verify:bootstrap" && !s.id.as_str().starts_with("preflight:")
            )
            .all(|s| s.status == Status::Skipped)
    );

    // --with-dependencies creates it: the bootstrap's saved plan is applied, then the rest.
    let mut a = args("dev");
    a.with_dependencies = true;
    let mut out = Vec::new();
    let code = deploy(repo.path(), &p, &a, &io, &mut out).unwrap();
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&out));
    let boot = terraform_of(&stand, "bootstrap");
    let subs: Vec<String> = boot.iter().map(|c| c.sub()).collect();
    assert_eq!(subs, ["init", "plan", "show", "apply"]);
    let saved = boot[1]
        .args
        .split_whitespace()
        .find_map(|a| a.strip_prefix("-out="))
        .unwrap();
    assert!(boot[3].args.ends_with(saved), "{}", boot[3].args);
    let applied = stand
        .calls()
        .into_iter()
        .find(|c| {
            c.event == "end" && c.module().as_deref() == Some("bootstrap") && c.sub() == "apply"
        })
        .unwrap();
    let cp_init = terraform_of(&stand, "controlplane")[0].at;
    assert!(
        applied.at <= cp_init,
        "the bucket exists before the controlplane's init"
    );
    let log = log_of(
        repo.path(),
        &latest(repo.path(), "dev"),
        "terraform:bootstrap",
    );
    assert!(
        log.contains("does not exist in us-east-1 (checked with S3 HeadBucket): creating it from infra/bootstrap"),
        "{log}"
    );
    assert!(
        repo.path()
            .join("infra/bootstrap/terraform.tfstate")
            .is_file(),
        "the stand-in left the local state, as Terraform does"
    );

    // From now on the local state decides, not S3 (whose fake still says "missing").
    let before = aws.calls.lock().unwrap().len();
    let mut out = Vec::new();
    assert_eq!(
        deploy(repo.path(), &p, &args("dev"), &io, &mut out).unwrap(),
        0,
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert!(
        !aws.calls.lock().unwrap()[before..]
            .iter()
            .any(|c| c.starts_with("HeadBucket"))
    );
    // A local state is not an input: the bootstrap of the first run is not made stale by it.
    assert!(
        terraform_of(&stand, "bootstrap")
            .iter()
            .any(|c| c.args.contains("-detailed-exitcode"))
    );
}

/// A writer the test keeps a handle on (the questions the prompt asked).
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// A prompt answered through a pipe, as a terminal would: `answers` is written and closed.
fn piped_prompt(answers: &str) -> (flotilla_deploy::Prompt, Captured) {
    use std::io::Write as _;
    let (reader, mut writer) = std::io::pipe().unwrap();
    writer.write_all(answers.as_bytes()).unwrap();
    drop(writer);
    let questions = Captured::default();
    (
        flotilla_deploy::Prompt::new(reader, questions.clone()),
        questions,
    )
}

#[test]
fn interactively_no_applies_nothing_and_yes_applies_exactly_the_saved_plan() {
    let p = support::two_envs();
    let repo = support::scratch_repo(&p);
    let mut a = args("dev");
    a.yes = false;

    for (answer, applied) in [("n\n", false), ("", false), ("yes\nyes\n", true)] {
        let stand = StandIns::new(
            &repo
                .path()
                .join(format!("answer-{}", answer.lines().count())),
            &Behaviour::default(),
        );
        let mut io = support::io(
            aws_with_receivers(),
            Arc::new(FakeKube::with_controlplane_for(&p, "dev")),
            stand.tools(),
        );
        let (prompt, questions) = piped_prompt(answer);
        io.prompt = Some(prompt);
        let mut out = Vec::new();
        let code = deploy(repo.path(), &p, &a, &io, &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        // One question per module Terraform changes, with the counts in view: the cluster's,
        // then (once it is applied) its link's; a declined cluster module asks nothing more.
        let asked = questions.text();
        assert_eq!(
            asked.matches("Apply?").count(),
            if applied { 2 } else { 1 },
            "{asked}"
        );
        assert!(
            asked.starts_with(
                "terraform:dev: Plan: 1 to add, 1 to change, 0 to destroy (saved plan "
            ),
            "{asked}"
        );
        assert!(asked.ends_with("Apply? [y/N] "), "{asked}");
        let dev = terraform_of(&stand, "dev");
        let applies: Vec<_> = stand
            .starts()
            .into_iter()
            .filter(|c| c.tool == "terraform" && c.sub() == "apply")
            .collect();
        let j = latest(repo.path(), "dev");
        if applied {
            assert_eq!(code, 0, "{out}");
            let saved = dev
                .iter()
                .find(|c| c.sub() == "plan")
                .and_then(|c| {
                    c.args
                        .split_whitespace()
                        .find_map(|a| a.strip_prefix("-out="))
                })
                .unwrap()
                .to_string();
            assert_eq!(applies.len(), 2, "{applies:?}");
            assert!(
                applies[0]
                    .args
                    .ends_with(&format!("apply -input=false -no-color {saved}"))
            );
            assert_eq!(applies[1].module().as_deref(), Some("dev/link"));
            assert!(
                asked.contains("\nlink:dev: Plan: ") || asked.contains("] link:dev: Plan: "),
                "{asked}"
            );
            assert!(asked.contains(&format!("(saved plan {saved})")), "{asked}");
            assert_eq!(status(&j, "smoke:dev"), Status::Succeeded);
        } else {
            assert_eq!(code, 1, "{out}");
            assert!(
                applies.is_empty(),
                "nothing applied after {answer:?}: {applies:?}"
            );
            let tf = j
                .step(&flotilla_plan::graph::StepId("terraform:dev".into()))
                .unwrap();
            assert_eq!(tf.status, Status::Failed);
            assert!(
                tf.message
                    .as_ref()
                    .unwrap()
                    .contains("not applied (declined)")
            );
            assert_eq!(status(&j, "access:dev"), Status::Skipped);
            assert!(!stand.starts().iter().any(|c| c.tool == "helm"));
        }
    }
}

/// Answers "y", but only after the user pressed Ctrl-C while the question was open.
struct InterruptedThenYes {
    cancel: Arc<flotilla_deploy::runner::Cancel>,
    done: bool,
}

impl std::io::Read for InterruptedThenYes {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        self.done = true;
        self.cancel.interrupt();
        buf[..2].copy_from_slice(b"y\n");
        Ok(2)
    }
}

#[test]
fn a_ctrl_c_during_the_apply_question_applies_nothing() {
    let p = support::two_envs();
    let repo = support::scratch_repo(&p);
    let stand = StandIns::new(repo.path(), &Behaviour::default());
    let mut io = support::io(
        aws_with_receivers(),
        Arc::new(FakeKube::with_controlplane_for(&p, "dev")),
        stand.tools(),
    );
    let questions = Captured::default();
    io.prompt = Some(flotilla_deploy::Prompt::new(
        InterruptedThenYes {
            cancel: io.cancel.clone(),
            done: false,
        },
        questions.clone(),
    ));
    let mut a = args("dev");
    a.yes = false;
    let code = deploy(repo.path(), &p, &a, &io, &mut Vec::new()).unwrap();
    assert_eq!(code, i32::from(flotilla_plan::exit::INTERRUPTED));
    assert_eq!(questions.text().matches("Apply?").count(), 1);
    assert!(!stand.starts().iter().any(|c| c.sub() == "apply"));
    let j = latest(repo.path(), "dev");
    assert_eq!(j.state, RunState::Interrupted);
    assert_eq!(status(&j, "terraform:dev"), Status::Interrupted);
    assert_eq!(status(&j, "access:dev"), Status::NotRun);
}

#[test]
fn terraform_working_files_do_not_make_a_protected_deploy_dirty() {
    let p = support::seed();
    let repo = support::scratch_repo(&p);
    git(repo.path(), &["init", "-q"]);
    git(repo.path(), &["add", "."]);
    git(repo.path(), &["commit", "-q", "-m", "generated"]);
    // The operator's machine: the bootstrap's local state and Terraform's lock file.
    std::fs::write(repo.path().join("infra/bootstrap/terraform.tfstate"), "{}").unwrap();
    std::fs::write(repo.path().join("infra/production/.terraform.lock.hcl"), "").unwrap();
    let stand = StandIns::new(
        &std::env::temp_dir().join(format!("flotilla-clean-{}", std::process::id())),
        &Behaviour {
            fail: Some("init".into()),
            ..Behaviour::default()
        },
    );
    let io = io_without_kube_state(FakeAws::default().in_account("123456789012"), &stand);
    let mut out = Vec::new();
    // Not refused: it runs (and stops at the failing stand-in).
    assert_eq!(
        deploy(repo.path(), &p, &args("production"), &io, &mut out).unwrap(),
        1
    );
    assert!(!stand.calls().is_empty());
    let _ = std::fs::remove_dir_all(stand.dir.parent().unwrap());
    // Any other untracked file is a change nobody reviewed: outside the generated trees the
    // clean-tree check refuses it, inside them the drift check does (before anything runs).
    std::fs::write(repo.path().join("NOTES.md"), "").unwrap();
    let err = deploy(repo.path(), &p, &args("production"), &io, &mut Vec::new()).unwrap_err();
    let e = err.to_string();
    assert!(e.contains("production is protected"), "{e}");
    assert!(e.contains("?? NOTES.md"), "{e}");
    assert!(!e.contains("tfstate") && !e.contains("lock.hcl"), "{e}");
    std::fs::remove_file(repo.path().join("NOTES.md")).unwrap();
    // A file Terraform would read is drift whatever its contents: the drift check refuses it
    // before anything runs.
    std::fs::write(repo.path().join("infra/production/extra.tf"), "").unwrap();
    let err = deploy(repo.path(), &p, &args("production"), &io, &mut Vec::new()).unwrap_err();
    assert!(
        matches!(&err, flotilla_deploy::Error::Drift { files } if files == &["infra/production/extra.tf".to_string()]),
        "{err}"
    );
}

/// A finished step as the reporter saw it: id, status, the tail of its log.
type Finished = (String, String, Vec<String>);

/// Keeps what the reporter was told about finished steps.
#[derive(Clone, Default)]
struct Recorder(Arc<std::sync::Mutex<Vec<Finished>>>);

impl flotilla_deploy::runner::Reporter for Recorder {
    fn started(&self, _: &flotilla_plan::graph::StepId) {}
    fn finished(&self, r: &journal::StepRecord, tail: &[String]) {
        self.0.lock().unwrap().push((
            r.id.to_string(),
            r.status.as_str().to_string(),
            tail.to_vec(),
        ));
    }
    fn message(&self, _: &flotilla_plan::graph::StepId, _: &str) {}
    fn suspend(&self, f: &mut dyn FnMut()) {
        f()
    }
}

#[test]
fn a_failed_step_shows_the_tail_of_its_log_and_the_summary_table() {
    let p = support::two_envs();
    let repo = support::scratch_repo(&p);
    let stand = StandIns::new(
        repo.path(),
        &Behaviour {
            fail: Some("-chdir=infra/dev apply".into()),
            ..Behaviour::default()
        },
    );
    let mut io = support::io(
        aws_with_receivers(),
        Arc::new(FakeKube::with_controlplane_for(&p, "dev")),
        stand.tools(),
    );
    let recorder = Recorder::default();
    io.reporter = Some(Box::new(recorder.clone()));
    let mut out = Vec::new();
    assert_eq!(
        deploy(repo.path(), &p, &args("dev"), &io, &mut out).unwrap(),
        1
    );
    let out = String::from_utf8(out).unwrap();
    let seen = recorder.0.lock().unwrap().clone();
    let (_, status, tail) = seen.iter().find(|(id, ..)| id == "terraform:dev").unwrap();
    assert_eq!(status, "FAILED");
    let text = tail.join("\n");
    assert!(
        text.contains("-chdir=infra/dev apply -input=false"),
        "{text}"
    );
    assert!(text.contains("stand-in: failing on demand"), "{text}");
    assert!(
        text.contains("step failed: `terraform apply` in infra/dev failed (exit code 1)"),
        "{text}"
    );
    assert!(!text.contains("] plan: "), "{text}");
    // Successful and skipped steps show no tail.
    assert!(
        seen.iter()
            .filter(|(id, ..)| id != "terraform:dev")
            .all(|(_, _, t)| t.is_empty())
    );
    // The summary table: one row per step with status, duration and log.
    let j = latest(repo.path(), "dev");
    assert!(out.contains("\nSTEP "), "{out}");
    for s in &j.steps {
        let row = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(s.id.as_str()))
            .unwrap_or_else(|| panic!("no row for {}: {out}", s.id));
        assert!(row.contains(s.status.as_str()), "{row}");
        match &s.log {
            Some(log) => assert!(row.ends_with(log.as_str()), "{row}"),
            None => assert!(row.ends_with(" -"), "{row}"),
        }
    }
    assert!(
        out.ends_with(
            "deploy dev: 1 step(s) failed; continue with `cargo xtask deploy dev --resume`\n"
        ),
        "{out}"
    );
}

/// The preflight stops a deploy before anything is created when the account's quotas are short
/// of what the platform needs, or EKS does not offer a pinned add-on version, and says which
/// quota to raise and how.
/// A deploy of `dev` in a scratch repository with stand-in tools and this AWS.
struct DevDeploy {
    code: i32,
    out: String,
    journal: Journal,
    stand: StandIns,
    aws: Arc<FakeAws>,
    _repo: tempfile::TempDir,
}

impl DevDeploy {
    fn run(p: &flotilla_model::Platform, aws: FakeAws) -> DevDeploy {
        let repo = support::scratch_repo(p);
        let stand = StandIns::new(repo.path(), &Behaviour::default());
        let aws = Arc::new(aws);
        let mut io = support::io(
            FakeAws::default(),
            Arc::new(FakeKube::with_controlplane_for(p, "dev")),
            stand.tools(),
        );
        io.aws = Box::new(support::SharedAws(aws.clone()));
        let mut out = Vec::new();
        let code = deploy(repo.path(), p, &args("dev"), &io, &mut out).unwrap();
        DevDeploy {
            code,
            out: String::from_utf8_lossy(&out).into_owned(),
            journal: latest(repo.path(), "dev"),
            stand,
            aws,
            _repo: repo,
        }
    }

    fn preflight(&self) -> &journal::StepRecord {
        self.journal
            .steps
            .iter()
            .find(|s| s.id.as_str().starts_with("preflight:"))
            .expect("a preflight step")
    }
}

#[test]
fn a_short_quota_or_an_unoffered_addon_stops_the_deploy_before_terraform() {
    let p = support::two_envs();
    let run = DevDeploy::run(
        &p,
        FakeAws {
            // A new account's Elastic IPs and on-demand vCPUs.
            quotas: [
                ("L-0263D0A3".to_string(), 1.0),
                ("L-1216C47A".to_string(), 5.0),
            ]
            .into(),
            unoffered_addons: ["coredns".to_string()].into(),
            ..aws_with_receivers()
        },
    );
    assert_eq!(run.code, 1, "{}", run.out);
    let (j, stand) = (&run.journal, &run.stand);
    let preflight = run.preflight();
    assert_eq!(preflight.status, Status::Failed);
    let m = preflight.message.clone().unwrap();
    let needs = flotilla_model::quotas::needs(&p);
    let need = |key: &str| {
        needs[0]
            .needs
            .iter()
            .find(|n| n.quota.key == key)
            .unwrap()
            .need
    };
    for (code, key) in [
        ("L-0263D0A3", "elastic-ips"),
        ("L-1216C47A", "on-demand-standard-vcpus"),
    ] {
        assert!(
            m.contains(&format!(
                "--quota-code {code} --desired-value {}",
                need(key)
            )),
            "{m}"
        );
    }
    assert!(
        m.contains("pins add-on coredns") && m.contains("change [eks_addons] in versions.toml"),
        "{m}"
    );
    // No Terraform step ran: nothing was created.
    assert!(
        terraform_of(stand, "dev").is_empty(),
        "{:?}",
        stand.starts()
    );
    let tf = j
        .step(&flotilla_plan::graph::StepId("terraform:dev".into()))
        .unwrap();
    assert_eq!(tf.status, Status::Skipped);
}

/// Destroy of an unprotected cluster, then a deploy of it under the same name (T6, T7 of the
/// Terraform review): the committed module is applied first (deletion protection off), the
/// gateway's load balancer protection is turned off before anything is uninstalled, and after
/// Terraform's destroy the log group EKS re-created is deleted, so the new cluster's Terraform
/// does not meet it.
#[test]
fn destroy_then_deploy_of_one_cluster_unprotects_first_and_leaves_no_log_group() {
    use flotilla_plan::Target;
    use flotilla_plan::graph::{GraphInputs, StepId, destroy_graph};
    let p = support::two_envs();
    let repo = support::scratch_repo(&p);
    let stand = StandIns::new(repo.path(), &Behaviour::default());
    let kube = Arc::new(FakeKube::default());
    let aws = Arc::new(aws_with_receivers());
    let mut io = support::io(FakeAws::default(), kube.clone(), stand.tools());
    io.aws = Box::new(support::SharedAws(aws.clone()));
    assert_eq!(
        deploy(repo.path(), &p, &args("all"), &io, &mut Vec::new()).unwrap(),
        0
    );
    let dev = p.cluster("dev").unwrap();
    let group = flotilla_terraform::eks_log_group(&p, dev);
    // What EKS does while it deletes the cluster: write its log group again.
    aws.log_groups.lock().unwrap().insert(group.clone());

    // The order, as the graph has it.
    let graph = destroy_graph(
        &p,
        &GraphInputs::from_platform(&p),
        &Target::Environment("dev".into()),
    )
    .unwrap()
    .unwrap();
    let ids: Vec<&str> = graph.steps().iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids[0], "unprotect:dev", "{ids:?}");
    let before = |a: &str, b: &str| {
        graph
            .ancestors(&StepId(b.into()))
            .contains(&StepId(a.into()))
    };
    assert!(before("unprotect:dev", "access:dev"));
    assert!(before(
        "unprotect:dev:nginx-gateway-fabric",
        "delete-custom-resources:dev"
    ));
    for r in flotilla_helm::releases(&p, dev) {
        assert!(before(
            "unprotect:dev:nginx-gateway-fabric",
            &format!("uninstall:dev:{}", r.name)
        ));
        assert!(before(
            &format!("uninstall:dev:{}", r.name),
            "terraform-destroy:dev"
        ));
    }
    assert!(before("terraform-destroy:dev", "delete-log-group:dev"));
    assert_eq!(ids.last(), Some(&"delete-log-group:dev"));

    // The dry run lists it in that order, with its commands.
    let mut d = DestroyArgs::new("dev", Some("dev"));
    d.dry_run = true;
    let mut out = Vec::new();
    assert_eq!(destroy(repo.path(), &p, &d, &io, &mut out).unwrap(), 0);
    let text = String::from_utf8(out).unwrap();
    let at = |s: &str| {
        text.find(s)
            .unwrap_or_else(|| panic!("{s} not in:\n{text}"))
    };
    assert!(at("1. unprotect:dev") < at("access:dev"));
    assert!(at("access:dev") < at("unprotect:dev:nginx-gateway-fabric"));
    assert!(at("terraform-destroy:dev") < at("delete-log-group:dev"));
    assert!(text.contains(&format!(
        "aws logs DeleteLogGroup logGroupName={group} region=us-east-1"
    )));

    // The real run.
    let mut d = DestroyArgs::new("dev", Some("dev"));
    d.yes = true;
    d.timeouts = support::quick();
    let mut out = Vec::new();
    assert_eq!(
        destroy(repo.path(), &p, &d, &io, &mut out).unwrap(),
        0,
        "{}",
        String::from_utf8_lossy(&out)
    );
    let j = journal::latest(repo.path(), "destroy", "dev")
        .unwrap()
        .unwrap()
        .1;
    assert!(
        j.steps.iter().all(|s| s.status == Status::Succeeded),
        "{j:?}"
    );
    assert!(
        aws.log_groups.lock().unwrap().is_empty(),
        "the log group is gone"
    );
    assert!(
        aws.calls
            .lock()
            .unwrap()
            .contains(&format!("DeleteLogGroup {group} us-east-1"))
    );
    let log = std::fs::read_to_string(
        repo.path().join(
            j.step(&StepId("delete-log-group:dev".into()))
                .unwrap()
                .log
                .as_ref()
                .unwrap(),
        ),
    )
    .unwrap();
    assert!(log.contains("EKS had re-created it"), "{log}");

    // And the cluster comes back under its name.
    let before_deploy = terraform_of(&stand, "dev").len();
    let code = deploy(repo.path(), &p, &args("dev"), &io, &mut Vec::new()).unwrap();
    assert_eq!(code, 0);
    let applies: Vec<_> = terraform_of(&stand, "dev")
        .into_iter()
        .skip(before_deploy)
        .filter(|c| c.sub() == "apply")
        .collect();
    assert_eq!(applies.len(), 1, "the new cluster's Terraform applied");
}

/// A real deploy plans from the committed release files and applies the committed values and
/// manifests; when they differ from `platform.toml` it refuses before anything runs and names
/// the files (the dry run still shows the plan, and the drift).
#[test]
fn a_deploy_refuses_when_the_committed_output_drifts_from_the_platform() {
    let p = support::two_envs();
    let repo = support::scratch_repo(&p);
    let values = repo.path().join("helm/dev/fluent-bit/values.yaml");
    let text = std::fs::read_to_string(&values).unwrap();
    std::fs::write(&values, text.replace("hotReload", "hot_reload")).unwrap();
    let stand = StandIns::new(repo.path(), &Behaviour::default());
    let io = io_without_kube_state(aws_with_receivers(), &stand);
    let err = deploy(repo.path(), &p, &args("dev"), &io, &mut Vec::new()).unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(&err, flotilla_deploy::Error::Drift { files } if files == &["helm/dev/fluent-bit/values.yaml".to_string()]),
        "{message}"
    );
    assert!(message.contains("cargo xtask generate"), "{message}");
    assert!(
        stand.calls().is_empty(),
        "nothing runs: {:?}",
        stand.calls()
    );
    // The dry run says so and still prints the plan.
    let mut dry = args("dev");
    dry.dry_run = true;
    let mut out = Vec::new();
    // Its exit code is the real run's (2): a pipeline can gate on the preview.
    assert_eq!(deploy(repo.path(), &p, &dry, &io, &mut out).unwrap(), 2);
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("generated output differs from platform.toml in 1 file (run `cargo xtask generate`): helm/dev/fluent-bit/values.yaml; a real deploy refuses"),
        "{out}"
    );
    // A hand-edited release list is drift like any other generated file.
    std::fs::write(&values, text).unwrap();
    let releases = repo.path().join("helm/dev/releases.yaml");
    let list = std::fs::read_to_string(&releases).unwrap();
    std::fs::write(&releases, list.replace("needs:", "needz:")).unwrap();
    let err = deploy(repo.path(), &p, &args("dev"), &io, &mut Vec::new()).unwrap_err();
    assert!(matches!(err, flotilla_deploy::Error::Drift { .. }), "{err}");
}

/// Before the first step: no usable credentials, or credentials of another account, stop a
/// deploy and a destroy with what to do; no step runs, no run directory is written, and no
/// `--resume` is suggested.
#[test]
fn credentials_are_checked_before_anything_runs() {
    let p = support::two_envs();
    let repo = support::scratch_repo(&p);
    let stand = StandIns::new(repo.path(), &Behaviour::default());
    let none = FakeAws {
        identity: Some(Err(flotilla_deploy::aws::AwsError::Credentials(
            "dispatch failure: failed to load IMDS session token".into(),
        ))),
        ..aws_with_receivers()
    };
    let io = io_without_kube_state(none, &stand);
    let mut out = Vec::new();
    let err = deploy(repo.path(), &p, &args("dev"), &io, &mut out).unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, flotilla_deploy::Error::Credentials(_)),
        "{message}"
    );
    assert!(
        message.starts_with("no usable AWS credentials for us-east-1: looked at the environment"),
        "{message}"
    );
    assert!(
        message.contains("failed to load IMDS session token"),
        "{message}"
    );
    assert!(message.contains("aws sso login"), "{message}");
    assert!(message.contains("account 111122223333"), "{message}");
    assert!(!message.contains("--resume"), "{message}");
    assert!(stand.calls().is_empty(), "{:?}", stand.calls());
    assert!(!repo.path().join(".flotilla/runs").exists());

    // Another account's credentials: both accounts named.
    let other = aws_with_receivers().in_account("999988887777");
    let io = io_without_kube_state(other, &stand);
    let mut d = DestroyArgs::new("dev", Some("dev"));
    d.yes = true;
    let message = destroy(repo.path(), &p, &d, &io, &mut Vec::new())
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("arn:aws:iam::999988887777:role/deploy in account 999988887777, but the platform's clusters are in account 111122223333"),
        "{message}"
    );
    assert!(stand.calls().is_empty(), "{:?}", stand.calls());
    assert!(!repo.path().join(".flotilla/runs").exists());

    // The dry run names the check with the account it wants, and the offline preconditions.
    let mut dry = args("dev");
    dry.dry_run = true;
    let mut out = Vec::new();
    assert_eq!(deploy(repo.path(), &p, &dry, &io, &mut out).unwrap(), 0);
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("preconditions of a real deploy:\n  git tree:    ok"),
        "{out}"
    );
    assert!(
        out.contains("  credentials: checked first by a real run (STS GetCallerIdentity in us-east-1, must be account 111122223333)"),
        "{out}"
    );
    assert!(out.contains("  tools:       ok here (terraform "), "{out}");
}

/// A git history of two commits: `before_text` (with the cluster `qa`) and its generated
/// output, then the same platform without `qa` and its output. Returns the checkout and the
/// platform after.
fn removal_history(before_text: &str) -> (tempfile::TempDir, flotilla_model::Platform) {
    let versions = flotilla_model::Versions::embedded();
    let start = before_text.find("[[clusters]]\nname = \"qa\"").unwrap();
    let end = before_text[start..].find("[observability]").unwrap() + start;
    let after_text = format!("{}{}", &before_text[..start], &before_text[end..]);
    let before = flotilla_model::load("platform.toml", before_text, &versions)
        .unwrap_or_else(|e| panic!("{e}"));
    let after = flotilla_model::load("platform.toml", &after_text, &versions).unwrap();
    let repo = support::scratch_repo(&before);
    let write_platform = |text: &str| {
        std::fs::write(repo.path().join("platform.toml"), text).unwrap();
        std::fs::copy(
            support::repo_root().join("versions.toml"),
            repo.path().join("versions.toml"),
        )
        .unwrap();
    };
    write_platform(before_text);
    git(repo.path(), &["init", "-q"]);
    git(repo.path(), &["add", "."]);
    git(repo.path(), &["commit", "-q", "-m", "with qa"]);
    for d in ["infra", "helm"] {
        std::fs::remove_dir_all(repo.path().join(d)).unwrap();
    }
    for (path, text) in flotilla_generate::render_all(&after).files {
        let p = repo.path().join(&path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    write_platform(&after_text);
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-q", "-m", "qa removed"]);
    (repo, after)
}

/// A workload cluster removed from platform.toml: `deploy all` lists it in its dry run, and a
/// real `deploy all` (after everything else succeeded) tears it down from the files of the
/// commit before its removal, as `destroy` would: its releases, its link, then its module.
/// A cluster removed while protected is refused; state the checkout never had is not touched.
#[test]
fn deploy_all_decommissions_a_cluster_the_model_removed() {
    let before_text =
        std::fs::read_to_string(support::repo_root().join("crates/testkit/fixtures/two-envs.toml"))
            .unwrap();
    let (repo, after) = removal_history(&before_text);
    assert!(after.cluster("qa").is_none());

    // The dry run names it, offline.
    let stand = StandIns::new(repo.path(), &Behaviour::default());
    let aws = FakeAws {
        state_keys: vec![
            "controlplane/terraform.tfstate".into(),
            "dev/terraform.tfstate".into(),
            "dev/link.tfstate".into(),
            "qa/terraform.tfstate".into(),
            "qa/link.tfstate".into(),
        ],
        ..aws_with_receivers()
    };
    let io = io_without_kube_state(aws, &stand);
    let mut dry = args("all");
    dry.dry_run = true;
    let mut out = Vec::new();
    assert_eq!(deploy(repo.path(), &after, &dry, &io, &mut out).unwrap(), 0);
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("decommission qa: removed from platform.toml in "),
        "{out}"
    );
    assert!(stand.calls().is_empty());

    // The real run: the deploy, then qa's teardown from the files of the commit before.
    let mut out = Vec::new();
    let code = deploy(repo.path(), &after, &args("all"), &io, &mut out).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("deploy all: done"), "{out}");
    assert!(
        out.contains("decommission qa: removed from platform.toml in "),
        "{out}"
    );
    assert!(out.contains("destroy qa: done"), "{out}");
    let starts = stand.starts();
    let qa: Vec<&support::Call> = starts
        .iter()
        .filter(|c| c.args.contains("infra/qa"))
        .collect();
    let destroy_at = |needle: &str| {
        qa.iter()
            .position(|c| c.args.contains(needle) && c.args.contains(" -destroy "))
            .unwrap_or_else(|| panic!("no {needle} destroy in {qa:?}"))
    };
    // The link goes before the cluster's module.
    assert!(
        destroy_at("infra/qa/link") < destroy_at("-chdir=infra/qa "),
        "{:#?}",
        qa.iter().map(|c| &c.args).collect::<Vec<_>>()
    );
    // It ran in the extracted files of the commit before, not in the checkout (which has
    // no infra/qa any more).
    assert!(
        qa.iter()
            .all(|c| c.cwd_or_code.contains(".flotilla/decommission/qa")),
        "{qa:?}"
    );
    assert!(!repo.path().join("infra/qa").exists());
    // dev was deployed, not torn down.
    assert!(
        !starts
            .iter()
            .any(|c| c.args.contains("-chdir=infra/dev ") && c.args.contains(" -destroy "))
    );

    // State for a cluster no commit of this checkout removed, and the bootstrap's state kept in
    // the bucket as docs/operations.md suggests: a warning for the first, silence for the
    // second, nothing of either touched, and the deploy succeeds.
    let stand = StandIns::new(&repo.path().join("other"), &Behaviour::default());
    let aws = FakeAws {
        state_keys: vec![
            "elsewhere/terraform.tfstate".into(),
            "bootstrap/terraform.tfstate".into(),
        ],
        ..aws_with_receivers()
    };
    let io = io_without_kube_state(aws, &stand);
    let mut out = Vec::new();
    assert_eq!(
        deploy(repo.path(), &after, &args("all"), &io, &mut out).unwrap(),
        0
    );
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("warning: the state bucket duo-111122223333-tfstate has elsewhere/terraform.tfstate, but platform.toml has no cluster elsewhere and no commit of this checkout removed infra/elsewhere: nothing of it is touched"),
        "{out}"
    );
    assert!(!out.contains("bootstrap/terraform.tfstate"), "{out}");
    assert!(
        !stand.starts().iter().any(|c| c.args.contains(" -destroy ")),
        "{:?}",
        stand.starts()
    );
}

/// A cluster removed from platform.toml while it was protected: `deploy all` tears it down only
/// with the typed confirmation; once torn down, its empty state is left alone.
#[test]
fn deploy_all_decommissions_a_protected_cluster_only_when_confirmed_and_an_empty_state_never() {
    let base =
        std::fs::read_to_string(support::repo_root().join("crates/testkit/fixtures/two-envs.toml"))
            .unwrap();
    let qa = "[[clusters]]\nname = \"qa\"\nrole = \"workload\"\nenvironment = \"qa\"\nvpc_cidr = \"10.2.0.0/16\"\navailability_zones = 2\n";
    assert!(base.contains(qa));
    let before_text = base.replace(
        qa,
        &qa.replace(
            "availability_zones = 2\n",
            "availability_zones = 3\nprotected = true\n",
        ),
    );
    let (repo, after) = removal_history(&before_text);

    let stand = StandIns::new(repo.path(), &Behaviour::default());
    let aws = FakeAws {
        state_keys: vec!["qa/terraform.tfstate".into()],
        ..aws_with_receivers()
    };
    let io = io_without_kube_state(aws, &stand);
    let err = deploy(repo.path(), &after, &args("all"), &io, &mut Vec::new()).unwrap_err();
    assert!(
        err.to_string().contains(
            "qa was protected when it was removed from platform.toml: tearing it down needs the typed confirmation, `cargo xtask deploy all --confirm-prune all`"
        ),
        "{err}"
    );
    assert!(
        !stand.starts().iter().any(|c| c.args.contains("infra/qa")),
        "{:?}",
        stand.starts()
    );
    // Confirmed: torn down, the deletion protection lifted by the first step.
    let mut confirmed = args("all");
    confirmed.confirm_prune = Some("all".into());
    let mut out = Vec::new();
    assert_eq!(
        deploy(repo.path(), &after, &confirmed, &io, &mut out).unwrap(),
        0,
        "{}",
        String::from_utf8_lossy(&out)
    );
    assert!(
        stand
            .starts()
            .iter()
            .any(|c| c.args.starts_with("-chdir=infra/qa plan") && c.args.contains(" -destroy ")),
        "{:?}",
        stand.starts()
    );
    // Torn down: its state is empty now, and the next deploy leaves it alone.
    let stand = StandIns::new(&repo.path().join("again"), &Behaviour::default());
    let aws = FakeAws {
        state_keys: vec!["qa/terraform.tfstate".into()],
        states: [(
            "qa/terraform.tfstate".to_string(),
            r#"{"version": 4, "resources": []}"#.to_string(),
        )]
        .into(),
        ..aws_with_receivers()
    };
    let io = io_without_kube_state(aws, &stand);
    let mut out = Vec::new();
    assert_eq!(
        deploy(repo.path(), &after, &args("all"), &io, &mut out).unwrap(),
        0
    );
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("qa: removed from platform.toml; its state s3://duo-111122223333-tfstate/qa/terraform.tfstate holds no resources (torn down already): nothing to do"),
        "{out}"
    );
    assert!(!stand.starts().iter().any(|c| c.args.contains("infra/qa")));
}

/// Destroying a cluster that is gone already (its states hold no resources) does nothing: no
/// step runs, so no apply of its module can create it anew.
#[test]
fn destroying_a_cluster_torn_down_already_does_nothing() {
    let p = support::two_envs();
    let repo = support::scratch_repo(&p);
    let stand = StandIns::new(repo.path(), &Behaviour::default());
    let empty = r#"{"version": 4, "resources": []}"#.to_string();
    let aws = FakeAws {
        state_keys: vec!["dev/terraform.tfstate".into(), "dev/link.tfstate".into()],
        states: [
            ("dev/terraform.tfstate".to_string(), empty.clone()),
            ("dev/link.tfstate".to_string(), empty),
        ]
        .into(),
        ..aws_with_receivers()
    };
    let io = io_without_kube_state(aws, &stand);
    let mut d = DestroyArgs::new("dev", Some("dev"));
    d.yes = true;
    let mut out = Vec::new();
    assert_eq!(destroy(repo.path(), &p, &d, &io, &mut out).unwrap(), 0);
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.contains("destroy dev: nothing to tear down: dev/terraform.tfstate and dev/link.tfstate in s3://duo-111122223333-tfstate hold no resources"),
        "{out}"
    );
    assert!(stand.calls().is_empty(), "{:?}", stand.calls());
}

/// The preflight asks EKS which version each applied cluster runs (DescribeCluster) and stops
/// the deploy before Terraform when `kubernetes_version` is a change EKS refuses: lower than
/// what runs, or more than one minor version up. The next minor, the same version, or a
/// cluster not created yet pass.
#[test]
fn a_version_change_eks_refuses_stops_the_deploy_before_terraform() {
    let p = support::two_envs();
    let dev = p.cluster("dev").unwrap();
    let eks_name = p.eks_cluster_name(dev);
    let (major, minor) = flotilla_model::kubernetes::minor_of(&dev.kubernetes_version).unwrap();
    let running = |m: u32| format!("{major}.{m}");
    let run = |version: Option<String>| {
        let run = DevDeploy::run(
            &p,
            FakeAws {
                cluster_versions: version
                    .map(|v| [(eks_name.clone(), v)].into())
                    .unwrap_or_default(),
                ..aws_with_receivers()
            },
        );
        let asked = run
            .aws
            .calls
            .lock()
            .unwrap()
            .iter()
            .any(|c| c.starts_with(&format!("DescribeCluster {eks_name} ")));
        assert!(asked, "the preflight asks EKS");
        (
            run.code,
            run.preflight().clone(),
            terraform_of(&run.stand, "dev").len(),
        )
    };

    let cases = [
        (running(minor + 1), "is lower than"),
        (running(minor - 2), "skips a minor version"),
    ];
    for (version, why) in cases {
        let (code, preflight, terraform_runs) = run(Some(version.clone()));
        assert_eq!(code, 1);
        assert_eq!(preflight.status, Status::Failed);
        let m = preflight.message.unwrap();
        assert!(
            m.contains(&format!(
                "cluster dev ({eks_name}) runs Kubernetes {version} in EKS, and its kubernetes_version in platform.toml is {}: kubernetes_version {} {why}",
                dev.kubernetes_version, dev.kubernetes_version
            )) && m.contains("nothing was created"),
            "{m}"
        );
        assert_eq!(terraform_runs, 0, "no Terraform step ran");
    }
    for version in [Some(running(minor - 1)), Some(running(minor)), None] {
        let (code, preflight, terraform_runs) = run(version.clone());
        assert_eq!(preflight.status, Status::Succeeded, "{version:?}");
        assert_eq!(code, 0, "{version:?}");
        assert!(terraform_runs > 0);
    }
}
