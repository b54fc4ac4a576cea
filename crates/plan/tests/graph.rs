//! Snapshots of the step graph: the repository's platform and the fixtures, every target.

use std::collections::BTreeMap;
use std::path::Path;

use flotilla_model::Platform;
use flotilla_plan::graph::{Graph, GraphInputs, GraphOptions, StepId, deploy_graph, destroy_graph};
use flotilla_plan::{Paths, Target, Timeouts, describe};
use flotilla_testkit::fixtures as support;

/// The graph with every step's dependencies, inputs, outputs and exact commands, paths under
/// a fixed root so the snapshot does not depend on the machine.
fn render(graph: &Graph) -> String {
    let paths = Paths {
        root: Path::new("/repo").to_path_buf(),
        state: Path::new("/repo/.flotilla").to_path_buf(),
        run_dir: Path::new("/repo/.flotilla/runs/<run-id>").to_path_buf(),
    };
    let mut out = String::new();
    for (i, s) in graph.steps().iter().enumerate() {
        out.push_str(&format!("{:>3}. {}\n", i + 1, s.id));
        if !s.needs.is_empty() {
            let needs: Vec<&str> = s.needs.iter().map(StepId::as_str).collect();
            out.push_str(&format!("     after:   {}\n", needs.join(", ")));
        }
        if !s.inputs.is_empty() {
            out.push_str(&format!("     inputs:  {}\n", s.inputs.join(", ")));
        }
        if !s.outputs.is_empty() {
            out.push_str(&format!("     outputs: {}\n", s.outputs.join("; ")));
        }
        for line in describe(s, &paths, &Timeouts::default(), &BTreeMap::new(), &|_| None) {
            out.push_str(&format!("       {line}\n"));
        }
    }
    out
}

fn deploy(p: &Platform, target: &str, with_dependencies: bool) -> Graph {
    let t = Target::parse(p, target).unwrap();
    deploy_graph(
        p,
        &GraphInputs::from_platform(p),
        &t,
        GraphOptions { with_dependencies },
    )
    .unwrap()
}

fn ids(g: &Graph) -> Vec<&str> {
    g.steps().iter().map(|s| s.id.as_str()).collect()
}

fn pos(g: &Graph, id: &str) -> usize {
    ids(g)
        .iter()
        .position(|s| *s == id)
        .unwrap_or_else(|| panic!("{id} not in the graph: {:?}", ids(g)))
}

#[test]
fn seed_production() {
    insta::assert_snapshot!(render(&deploy(&support::seed(), "production", false)));
}

#[test]
fn seed_production_with_dependencies() {
    insta::assert_snapshot!(render(&deploy(&support::seed(), "production", true)));
}

#[test]
fn seed_controlplane() {
    insta::assert_snapshot!(render(&deploy(&support::seed(), "controlplane", false)));
}

#[test]
fn seed_all_as_mermaid() {
    insta::assert_snapshot!(deploy(&support::seed(), "all", false).to_mermaid());
}

#[test]
fn two_envs_all() {
    insta::assert_snapshot!(render(&deploy(&support::two_envs(), "all", false)));
}

#[test]
fn two_envs_destroy_dev() {
    let p = support::two_envs();
    let g = destroy_graph(
        &p,
        &GraphInputs::from_platform(&p),
        &Target::parse(&p, "dev").unwrap(),
    )
    .unwrap()
    .unwrap();
    insta::assert_snapshot!(render(&g));
}

/// Every cluster module is created at once: a workload's waits for no other cluster; its link
/// waits for both cluster modules, and its releases for the link. Only the releases in the
/// namespace the Kafka credentials are copied into wait for the controlplane to be ready.
#[test]
fn every_cluster_is_created_at_once_and_linked_after() {
    let g = deploy(&support::seed(), "all", false);
    for env in ["production", "staging", "testing"] {
        let tf = format!("terraform:{env}");
        let link = format!("link:{env}");
        assert!(!before(&g, "terraform:controlplane", &tf), "{env}");
        assert!(before(&g, "terraform:controlplane", &link), "{env}");
        assert!(before(&g, &tf, &link), "{env}");
        for r in ["kube-prometheus-stack", "external-dns", "fluent-bit"] {
            assert!(before(&g, &link, &format!("helm:{env}:{r}")), "{env} {r}");
        }
        // Kafka credentials come from the controlplane once it is ready, for Fluent Bit only.
        assert!(before(
            &g,
            "readiness:controlplane",
            &format!("kafka-credentials:{env}")
        ));
        assert!(before(
            &g,
            &format!("kafka-credentials:{env}"),
            &format!("helm:{env}:fluent-bit")
        ));
        assert!(!before(
            &g,
            "readiness:controlplane",
            &format!("helm:{env}:kube-prometheus-stack")
        ));
        // The API is reached without the link (the runner is not in the controlplane's VPC).
        assert!(!before(&g, &link, &format!("access:{env}")));
    }
    // A workload deploy that only verifies the controlplane creates nothing until it is
    // verified: a stale controlplane stops the deploy before a cluster is half made.
    let g = deploy(&support::seed(), "staging", false);
    assert!(before(&g, "verify:controlplane", "terraform:staging"));
    assert!(before(&g, "verify:controlplane", "link:staging"));
}

/// A private API reached from a network inside the controlplane's VPC (a runner there) is
/// reached through the link: the workload's access waits for it.
#[test]
fn an_api_reached_from_the_controlplanes_vpc_waits_for_the_link() {
    let mut p = support::seed();
    let cp_cidr = p.controlplane().vpc_cidr;
    let staging = p.clusters.iter_mut().find(|c| c.name == "staging").unwrap();
    staging.endpoint = flotilla_model::EndpointAccess::Private;
    staging.private_access.cidrs = vec![cp_cidr];
    let g = deploy(&p, "all", false);
    assert!(before(&g, "link:staging", "access:staging"));
    assert!(!before(&g, "link:production", "access:production"));
}

/// `a` comes before `b` by a path of dependencies, not only by the order of the list.
fn before(g: &Graph, a: &str, b: &str) -> bool {
    pos(g, a) < pos(g, b) && g.ancestors(&StepId(b.into())).contains(&StepId(a.into()))
}

#[test]
fn custom_resources_apply_between_their_operator_and_their_readers() {
    let g = deploy(&support::seed(), "controlplane", false);
    let es = "resources:controlplane:31-elastic";
    assert!(before(&g, "helm:controlplane:eck-operator", es));
    for reader in ["grafana", "prometheus-elasticsearch-exporter"] {
        assert!(
            before(&g, es, &format!("helm:controlplane:{reader}")),
            "{reader}"
        );
    }
    let kafka = "resources:controlplane:30-kafka";
    assert!(before(
        &g,
        "helm:controlplane:strimzi-kafka-operator",
        kafka
    ));
    assert!(before(
        &g,
        "helm:controlplane:kube-prometheus-stack",
        "resources:controlplane:32-alert-rules"
    ));
    // Each manifest is its own step, not one step after every release.
    assert!(!ids(&g).iter().any(|s| s.starts_with("custom-resources:")));
    assert!(!before(&g, "helm:controlplane:grafana", kafka));
    for step in [kafka, es] {
        assert!(before(&g, step, "readiness:controlplane"), "{step}");
    }
    // Workload clusters: the Gateway after NGINX Gateway Fabric, which brings its class.
    let g = deploy(&support::seed(), "staging", false);
    assert!(before(
        &g,
        "helm:staging:nginx-gateway-fabric",
        "resources:staging:30-gateway"
    ));
}

#[test]
fn an_environment_only_verifies_its_dependencies_unless_asked() {
    let p = support::seed();
    let g = deploy(&p, "staging", false);
    assert!(ids(&g).contains(&"verify:bootstrap"));
    assert!(ids(&g).contains(&"verify:controlplane"));
    assert!(!ids(&g).contains(&"terraform:controlplane"));
    assert!(!ids(&g).iter().any(|s| s.ends_with(":production")));
    let g = deploy(&p, "staging", true);
    assert!(ids(&g).contains(&"terraform:bootstrap"));
    assert!(ids(&g).contains(&"terraform:controlplane"));
    assert!(ids(&g).contains(&"readiness:controlplane"));
}

#[test]
fn helm_releases_follow_their_needs() {
    let p = support::seed();
    let g = deploy(&p, "all", false);
    for c in &p.clusters {
        for r in flotilla_helm::releases(&p, c) {
            let me = pos(&g, &format!("helm:{}:{}", c.name, r.name));
            for n in &r.needs {
                assert!(pos(&g, &format!("helm:{}:{n}", c.name)) < me);
            }
            assert!(pos(&g, &format!("namespaces:{}", c.name)) < me);
        }
    }
}

#[test]
fn destroy_refuses_protected_clusters_and_reverses_the_releases() {
    let p = support::seed();
    let inputs = GraphInputs::from_platform(&p);
    let err = destroy_graph(&p, &inputs, &Target::parse(&p, "production").unwrap()).unwrap_err();
    assert!(err.to_string().contains("production is protected"), "{err}");
    let g = destroy_graph(&p, &inputs, &Target::parse(&p, "staging").unwrap())
        .unwrap()
        .unwrap();
    let staging = p.cluster("staging").unwrap();
    for r in flotilla_helm::releases(&p, staging) {
        let me = pos(&g, &format!("uninstall:staging:{}", r.name));
        assert!(pos(&g, "delete-custom-resources:staging") < me);
        assert!(me < pos(&g, "terraform-destroy:staging"));
        for n in &r.needs {
            // What a release needs goes after it.
            assert!(me < pos(&g, &format!("uninstall:staging:{n}")));
        }
    }
}

#[test]
fn unknown_target_lists_the_known_ones() {
    let p = support::seed();
    let err = Target::parse(&p, "prod").unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown target `prod`; known targets: controlplane, production, staging, testing, all"
    );
}

#[test]
fn dot_and_mermaid_name_every_edge() {
    let g = deploy(&support::two_envs(), "dev", false);
    let edges: usize = g.steps().iter().map(|s| s.needs.len()).sum();
    assert_eq!(g.to_dot().matches(" -> ").count(), edges);
    assert_eq!(g.to_mermaid().matches(" --> ").count(), edges);
}

/// The committed release files carry everything the graph is built from: planning from
/// `helm/<cluster>/releases.yaml` as rendered and read back gives the same inputs as asking
/// the renderer.
#[test]
fn release_files_read_back_give_the_same_inputs() {
    for p in [support::seed(), support::two_envs()] {
        let files: Vec<flotilla_helm::ReleaseFile> = flotilla_helm::render(&p)
            .into_iter()
            .filter(|a| a.path.ends_with("/releases.yaml"))
            .map(|a| flotilla_helm::ReleaseFile::parse(&a.path, &a.contents).unwrap())
            .collect();
        assert_eq!(files.len(), p.clusters.len());
        assert_eq!(
            GraphInputs::from_release_files(files),
            GraphInputs::from_platform(&p)
        );
    }
    let err = flotilla_helm::ReleaseFile::parse("helm/x/releases.yaml", "cluster: x\nextra: 1\n")
        .unwrap_err();
    assert!(err.starts_with("helm/x/releases.yaml: "), "{err}");
}

/// `--jobs` grows with the platform, and every Terraform step is throttled by the account and
/// region it runs against.
#[test]
fn jobs_follow_the_platform_and_terraform_is_grouped_by_account_and_region() {
    let seed = support::seed();
    assert_eq!(flotilla_plan::default_jobs(&seed), 8);
    let big = flotilla_model::load(
        "synth.toml",
        &flotilla_testkit::synthetic::platform(30, 1),
        &flotilla_model::Versions::embedded(),
    )
    .unwrap();
    assert_eq!(flotilla_plan::default_jobs(&big), 32);
    let inputs = GraphInputs::from_platform(&seed);
    let g = deploy_graph(&seed, &inputs, &Target::All, GraphOptions::default()).unwrap();
    let groups = flotilla_plan::throttle_groups(&seed, &g);
    let terraform: Vec<&StepId> = g
        .steps()
        .iter()
        .filter(|s| {
            matches!(
                s.work,
                flotilla_plan::Work::Terraform { .. } | flotilla_plan::Work::Bootstrap { .. }
            )
        })
        .map(|s| &s.id)
        .collect();
    assert_eq!(
        terraform.len(),
        8,
        "bootstrap, four clusters and three links"
    );
    for id in terraform {
        assert_eq!(groups[id], "terraform:123456789012:eu-west-1", "{id}");
    }
    assert_eq!(groups.len(), 8, "nothing else is throttled");
}
