//! The step graph: typed steps with explicit inputs, outputs and dependencies.
//!
//! Building the graph is pure: it reads the model and the release/manifest lists the renderers
//! produce ([`GraphInputs`]), never the disk or the network. The same graph is printed by
//! `--dry-run` and `plan`, and run by `flotilla-deploy`'s scheduler.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};

use flotilla_helm::{CrdBundle, Phase, Release};
use flotilla_model::quotas::QuotaNeed;
use flotilla_model::{Cluster, Platform, Role};

use crate::target::Target;
use crate::wiring::{self, ReceiverSecret, SecretRef};

/// The name of a step, unique in a graph (`terraform:production`, `helm:staging:fluent-bit`).
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct StepId(pub String);

impl StepId {
    fn new(parts: &[&str]) -> StepId {
        StepId(parts.join(":"))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What Terraform does in a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TerraformMode {
    /// `init`, `plan -out`, `show -json` (change counts), `apply` of that saved plan.
    Apply,
    /// `init`, `plan -detailed-exitcode`: fails when the module is not deployed and current.
    Verify,
    /// `init`, `plan -destroy -out`, `show -json`, `apply` of that saved plan.
    Destroy,
}

/// A cluster the preflight compares with what runs: its name in platform.toml and in EKS, and
/// the Kubernetes version the deploy would give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterVersion {
    pub cluster: String,
    pub eks_name: String,
    pub kubernetes: String,
}

/// An EKS add-on version versions.toml pins for a Kubernetes version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddonPin {
    pub addon: String,
    pub kubernetes: String,
    pub version: String,
}

/// The work of a step. Each variant names exactly what it touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Work {
    /// Before the first Terraform step in a region: the account's service quotas hold what the
    /// whole platform needs there (Service Quotas), and every add-on version the clusters of
    /// the region pin is one EKS offers for their Kubernetes version (DescribeAddonVersions).
    /// Reads only; stops the deploy before anything is created.
    Preflight {
        region: String,
        quotas: Vec<QuotaNeed>,
        addons: Vec<AddonPin>,
        /// The applied clusters of the region with their EKS names and `kubernetes_version`:
        /// a running cluster's version (DescribeCluster) must be one EKS can move from.
        clusters: Vec<ClusterVersion>,
    },
    /// The state bucket (`infra/bootstrap`, whose own state is local). Where that local state
    /// is on this machine, Terraform compares it with the module (verify: `plan
    /// -detailed-exitcode`; deploy: the usual saved plan). Where it is not (a CI runner),
    /// S3 HeadBucket says whether the bucket exists: verify stops when it does not, deploy
    /// creates it, and an existing bucket is never re-created from a machine without its state.
    Bootstrap {
        /// Relative to the repository root (`infra/bootstrap`).
        dir: String,
        bucket: String,
        region: String,
        /// Create or update it (`--with-dependencies`, `all`) rather than only check it.
        deploy: bool,
    },
    Terraform {
        /// `bootstrap` or a cluster name.
        module: String,
        /// Relative to the repository root (`infra/production`).
        dir: String,
        mode: TerraformMode,
    },
    /// `terraform output -json` for the EKS cluster name, DescribeCluster for endpoint and CA.
    ClusterAccess {
        cluster: String,
        region: String,
        dir: String,
    },
    /// CRD bundles from their pinned upstream release (kubectl server-side apply, then wait
    /// until established), and CRD manifest files (server-side apply).
    Crds {
        cluster: String,
        bundles: Vec<CrdBundle>,
        files: Vec<String>,
    },
    /// Server-side apply of manifest files with field manager [`crate::FIELD_MANAGER`].
    Apply {
        cluster: String,
        phase: Phase,
        files: Vec<String>,
    },
    HelmInstall {
        cluster: String,
        release: Release,
    },
    HelmUninstall {
        cluster: String,
        release: Release,
    },
    /// Deployments and StatefulSets of the namespaces available, custom resources ready.
    Readiness {
        cluster: String,
        namespaces: Vec<String>,
        files: Vec<String>,
    },
    /// Copy Secrets from one cluster into another (`(from, to)` pairs, one target cluster).
    CopySecrets {
        copies: Vec<(SecretRef, SecretRef)>,
    },
    /// Read receiver credentials from AWS Secrets Manager into Kubernetes Secrets.
    ReceiverCredentials {
        cluster: String,
        region: String,
        secrets: Vec<ReceiverSecret>,
    },
    /// Delete what Flotilla applied to the cluster before and the committed manifests no longer
    /// have: the cluster's inventory (the ConfigMap [`INVENTORY`]) less the objects of `files`;
    /// then record `files`' objects as the new inventory. Nothing outside the inventory is ever
    /// deleted. A protected namespace goes only when the deploy was confirmed for pruning.
    Prune {
        cluster: String,
        files: Vec<String>,
        protected: bool,
    },
    /// Smoke checks: API reachable, every node Ready, custom resources still ready.
    Smoke {
        cluster: String,
        files: Vec<String>,
    },
    /// Delete custom resources and wait until their finalizers have let them go.
    DeleteObjects {
        cluster: String,
        files: Vec<String>,
    },
    /// Refuse while any of these workload link modules (module key, directory) still has
    /// resources in its state.
    CheckNoPeers {
        workloads: Vec<(String, String)>,
    },
    /// After a destroy: delete the cluster's control plane log group, which EKS re-creates
    /// while the cluster is deleted (terraform-aws-eks#2763); without this a re-created
    /// cluster of the same name fails on ResourceAlreadyExistsException.
    DeleteLogGroup {
        cluster: String,
        region: String,
        group: String,
    },
}

impl Work {
    /// The cluster the step talks to, when it talks to one.
    pub fn cluster(&self) -> Option<&str> {
        match self {
            Work::Terraform { .. }
            | Work::Bootstrap { .. }
            | Work::CheckNoPeers { .. }
            | Work::Preflight { .. }
            | Work::DeleteLogGroup { .. } => None,
            Work::ClusterAccess { cluster, .. }
            | Work::Crds { cluster, .. }
            | Work::Apply { cluster, .. }
            | Work::HelmInstall { cluster, .. }
            | Work::HelmUninstall { cluster, .. }
            | Work::Readiness { cluster, .. }
            | Work::ReceiverCredentials { cluster, .. }
            | Work::Smoke { cluster, .. }
            | Work::Prune { cluster, .. }
            | Work::DeleteObjects { cluster, .. } => Some(cluster),
            Work::CopySecrets { copies } => copies.first().map(|(_, to)| to.cluster.as_str()),
        }
    }
}

/// One node of the graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub id: StepId,
    pub work: Work,
    /// Steps that must succeed first.
    pub needs: Vec<StepId>,
    /// Files (relative to the repository root; a directory means the files directly in it, as
    /// a Terraform root module's are) whose
    /// contents, with the step's commands, make its inputs hash.
    pub inputs: Vec<String>,
    /// What the step establishes for its dependents.
    pub outputs: Vec<String>,
    /// Re-run on `--resume` even when it succeeded before: it only reads, and what it reads
    /// (endpoints, short-lived tokens) is not kept in the journal.
    pub volatile: bool,
}

/// A validated, acyclic set of steps in a deterministic topological order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graph {
    steps: Vec<Step>,
}

/// The graph has a dependency on an unknown step or a cycle: a bug in the builder.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GraphError {
    #[error("step {step} needs {missing}, which is not in the graph")]
    Missing { step: StepId, missing: StepId },
    #[error("dependency cycle through {0}")]
    Cycle(StepId),
    #[error("step {0} appears twice")]
    Duplicate(StepId),
}

impl Graph {
    /// Orders the steps topologically; ties keep insertion order (deterministic output).
    pub fn new(steps: Vec<Step>) -> Result<Graph, GraphError> {
        let mut index = BTreeMap::new();
        for (i, s) in steps.iter().enumerate() {
            if index.insert(s.id.clone(), i).is_some() {
                return Err(GraphError::Duplicate(s.id.clone()));
            }
        }
        for s in &steps {
            for n in &s.needs {
                if !index.contains_key(n) {
                    return Err(GraphError::Missing {
                        step: s.id.clone(),
                        missing: n.clone(),
                    });
                }
            }
        }
        let mut done: BTreeSet<StepId> = BTreeSet::new();
        let mut ordered = Vec::with_capacity(steps.len());
        let mut remaining: Vec<Step> = steps;
        while !remaining.is_empty() {
            let pos = remaining
                .iter()
                .position(|s| s.needs.iter().all(|n| done.contains(n)));
            match pos {
                Some(p) => {
                    let s = remaining.remove(p);
                    done.insert(s.id.clone());
                    ordered.push(s);
                }
                None => return Err(GraphError::Cycle(remaining[0].id.clone())),
            }
        }
        Ok(Graph { steps: ordered })
    }

    /// Steps in topological order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    pub fn get(&self, id: &StepId) -> Option<&Step> {
        self.steps.iter().find(|s| &s.id == id)
    }

    /// Every step `id` depends on, directly or not.
    pub fn ancestors(&self, id: &StepId) -> BTreeSet<StepId> {
        let mut out = BTreeSet::new();
        let mut frontier = vec![id.clone()];
        while let Some(cur) = frontier.pop() {
            if let Some(s) = self.get(&cur) {
                for n in &s.needs {
                    if out.insert(n.clone()) {
                        frontier.push(n.clone());
                    }
                }
            }
        }
        out
    }

    /// Every step that depends on `id`, directly or not.
    pub fn dependents(&self, id: &StepId) -> BTreeSet<StepId> {
        let mut out = BTreeSet::new();
        let mut frontier = vec![id.clone()];
        while let Some(cur) = frontier.pop() {
            for s in &self.steps {
                if s.needs.contains(&cur) && out.insert(s.id.clone()) {
                    frontier.push(s.id.clone());
                }
            }
        }
        out
    }

    /// The step graph as an indented text list with each step's dependencies.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (i, s) in self.steps.iter().enumerate() {
            let _ = writeln!(out, "{:>3}. {}", i + 1, s.id);
            if !s.needs.is_empty() {
                let needs: Vec<&str> = s.needs.iter().map(StepId::as_str).collect();
                let _ = writeln!(out, "       after: {}", needs.join(", "));
            }
        }
        out
    }

    /// Mermaid flowchart (`flowchart TD`).
    pub fn to_mermaid(&self) -> String {
        let mut out = String::from("flowchart TD\n");
        let ids: BTreeMap<&StepId, String> = self
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| (&s.id, format!("s{i}")))
            .collect();
        for s in &self.steps {
            let _ = writeln!(out, "    {}[\"{}\"]", ids[&s.id], s.id);
        }
        for s in &self.steps {
            for n in &s.needs {
                let _ = writeln!(out, "    {} --> {}", ids[n], ids[&s.id]);
            }
        }
        out
    }

    /// Graphviz DOT.
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph deploy {\n    rankdir=LR;\n    node [shape=box];\n");
        for s in &self.steps {
            let _ = writeln!(out, "    \"{}\";", s.id);
        }
        for s in &self.steps {
            for n in &s.needs {
                let _ = writeln!(out, "    \"{}\" -> \"{}\";", n, s.id);
            }
        }
        out.push_str("}\n");
        out
    }
}

/// What the renderers say about each cluster: CRD bundles, Helm releases and manifest files by
/// phase. Built from the pure Helm renderer ([`GraphInputs::from_platform`]); tests may build
/// their own.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GraphInputs {
    pub crd_bundles: BTreeMap<String, Vec<CrdBundle>>,
    pub releases: BTreeMap<String, Vec<Release>>,
    /// (cluster, phase) -> manifest files relative to the repository root, in apply order.
    pub manifests: BTreeMap<(String, Phase), Vec<String>>,
    /// Manifest file -> releases of its cluster installed before it is applied (the operators
    /// of a custom-resource manifest). A file not listed needs none.
    pub manifest_needs: BTreeMap<String, Vec<String>>,
}

impl GraphInputs {
    /// Asks the Helm renderer (pure) for every cluster's release file: what `generate` would
    /// write (the dry run and `plan` use it; a real deploy reads the committed files).
    pub fn from_platform(platform: &Platform) -> GraphInputs {
        GraphInputs::from_release_files(
            platform
                .clusters
                .iter()
                .map(|c| flotilla_helm::ReleaseFile::of(platform, c)),
        )
    }

    /// From release files (`helm/<cluster>/releases.yaml`), as committed or as rendered.
    pub fn from_release_files(
        files: impl IntoIterator<Item = flotilla_helm::ReleaseFile>,
    ) -> GraphInputs {
        let mut inputs = GraphInputs::default();
        for f in files {
            inputs.crd_bundles.insert(f.cluster.clone(), f.crds);
            inputs.releases.insert(f.cluster.clone(), f.releases);
            for m in f.manifests {
                if !m.needs.is_empty() {
                    inputs.manifest_needs.insert(m.file.clone(), m.needs);
                }
                inputs
                    .manifests
                    .entry((f.cluster.clone(), m.phase))
                    .or_default()
                    .push(m.file);
            }
        }
        inputs
    }

    fn releases_of(&self, cluster: &str) -> &[Release] {
        self.releases.get(cluster).map(Vec::as_slice).unwrap_or(&[])
    }

    fn bundles_of(&self, cluster: &str) -> Vec<CrdBundle> {
        self.crd_bundles.get(cluster).cloned().unwrap_or_default()
    }

    fn needs_of(&self, file: &str) -> &[String] {
        self.manifest_needs
            .get(file)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    fn files(&self, cluster: &str, phase: Phase) -> Vec<String> {
        self.manifests
            .get(&(cluster.to_string(), phase))
            .cloned()
            .unwrap_or_default()
    }
}

/// How the deploy graph is cut.
#[derive(Debug, Clone, Copy, Default)]
pub struct GraphOptions {
    /// Deploy the bootstrap and the controlplane too, instead of only checking they are current.
    pub with_dependencies: bool,
}

fn id(parts: &[&str]) -> StepId {
    StepId::new(parts)
}

/// The deploy graph of a target.
pub fn deploy_graph(
    platform: &Platform,
    inputs: &GraphInputs,
    target: &Target,
    options: GraphOptions,
) -> Result<Graph, GraphError> {
    let cp = platform.controlplane();
    let mut steps = Vec::new();
    let full_dependencies = options.with_dependencies || *target == Target::All;
    let deploy_cp = matches!(target, Target::Controlplane | Target::All) || full_dependencies;
    let workloads: Vec<&Cluster> = match target {
        Target::Environment(env) => platform
            .workload_clusters()
            .filter(|c| &c.environment == env)
            .collect(),
        Target::Controlplane => Vec::new(),
        Target::All => platform.workload_clusters().collect(),
    };
    let applied: Vec<&Cluster> = deploy_cp
        .then_some(cp)
        .into_iter()
        .chain(workloads.iter().copied())
        .collect();
    preflight_steps(platform, &applied, &mut steps);
    // The bootstrap and controlplane are either deployed or verified by every target.
    let (bootstrap_id, cp_terraform_id) = match target {
        Target::Controlplane => {
            let b = bootstrap_steps(platform, &mut steps, full_dependencies);
            (b, None)
        }
        _ => {
            let b = bootstrap_steps(platform, &mut steps, full_dependencies);
            if full_dependencies {
                (b, None)
            } else {
                let v = id(&["verify", &cp.name]);
                steps.push(Step {
                    id: v.clone(),
                    work: Work::Terraform {
                        module: cp.name.clone(),
                        dir: infra_dir(&cp.name),
                        mode: TerraformMode::Verify,
                    },
                    needs: vec![b.clone()],
                    inputs: vec![infra_dir(&cp.name)],
                    outputs: vec![format!("{} is deployed and current", cp.name)],
                    volatile: true,
                });
                (b, Some(v))
            }
        }
    };
    if deploy_cp {
        cluster_steps(platform, inputs, cp, &bootstrap_id, None, &mut steps);
    } else {
        // Only what a workload deploy reads from the controlplane: its access.
        steps.push(access_step(
            cp,
            cp_terraform_id.clone().into_iter().collect(),
        ));
    }
    let cp_ready = if deploy_cp {
        id(&["readiness", &cp.name])
    } else {
        cp_terraform_id.clone().expect("verify step exists")
    };
    let (cp_tf, cp_verified) = if deploy_cp {
        (id(&["terraform", &cp.name]), None)
    } else {
        let v = cp_terraform_id.expect("verify step exists");
        (v.clone(), Some(v))
    };
    for w in workloads {
        let wiring = WorkloadWiring {
            controlplane_terraform: cp_tf.clone(),
            controlplane_verified: cp_verified.clone(),
            controlplane_ready: cp_ready.clone(),
            controlplane_access: id(&["access", &cp.name]),
            kafka_copies: wiring::kafka_secrets(platform, w),
        };
        cluster_steps(
            platform,
            inputs,
            w,
            &bootstrap_id,
            Some(&wiring),
            &mut steps,
        );
    }
    Graph::new(steps)
}

struct WorkloadWiring {
    controlplane_terraform: StepId,
    /// The check that the controlplane is deployed and current, when this deploy does not apply
    /// it: a precondition of creating anything, so that a stale controlplane stops the deploy
    /// before a workload cluster is half made.
    controlplane_verified: Option<StepId>,
    controlplane_ready: StepId,
    controlplane_access: StepId,
    kafka_copies: Vec<(SecretRef, SecretRef)>,
}

fn preflight_id(region: &str) -> StepId {
    id(&["preflight", region])
}

/// One preflight step per region the applied clusters are in: the quotas of every cluster of
/// the platform there (they share the account's quotas), the add-on pins of the applied ones.
fn preflight_steps(platform: &Platform, applied: &[&Cluster], steps: &mut Vec<Step>) {
    let mut regions: Vec<&str> = applied.iter().map(|c| c.region.as_str()).collect();
    regions.dedup();
    let mut seen = Vec::new();
    let quotas = flotilla_model::quotas::needs(platform);
    for region in regions {
        if seen.contains(&region) {
            continue;
        }
        seen.push(region);
        let needs = quotas
            .iter()
            .filter(|q| q.region == region)
            .flat_map(|q| q.needs.clone())
            .collect();
        let mut addons: Vec<AddonPin> = Vec::new();
        let mut clusters = Vec::new();
        for c in applied.iter().filter(|c| c.region == region) {
            clusters.push(ClusterVersion {
                cluster: c.name.clone(),
                eks_name: platform.eks_cluster_name(c),
                kubernetes: c.kubernetes_version.clone(),
            });
            for addon in flotilla_model::versions::EKS_ADDONS {
                let version = platform
                    .versions
                    .eks_addon(addon, &c.kubernetes_version)
                    .expect("validated: every cluster version pins every add-on");
                let pin = AddonPin {
                    addon: addon.to_string(),
                    kubernetes: c.kubernetes_version.clone(),
                    version: version.to_string(),
                };
                if !addons.contains(&pin) {
                    addons.push(pin);
                }
            }
        }
        steps.push(Step {
            id: preflight_id(region),
            work: Work::Preflight {
                region: region.to_string(),
                quotas: needs,
                addons,
                clusters,
            },
            needs: vec![],
            inputs: vec![],
            outputs: vec![format!(
                "the account's quotas, EKS's add-on versions and the running clusters' versions in {region} hold the platform"
            )],
            volatile: true,
        });
    }
}

fn infra_dir(module: &str) -> String {
    flotilla_terraform::module_dir(module)
}

fn bootstrap_steps(platform: &Platform, steps: &mut Vec<Step>, deploy: bool) -> StepId {
    let step_id = if deploy {
        id(&["terraform", "bootstrap"])
    } else {
        id(&["verify", "bootstrap"])
    };
    steps.push(Step {
        id: step_id.clone(),
        work: Work::Bootstrap {
            dir: infra_dir("bootstrap"),
            bucket: platform.state_bucket.clone(),
            region: platform.region.clone(),
            deploy,
        },
        needs: vec![],
        inputs: vec![infra_dir("bootstrap")],
        outputs: vec![format!("state bucket {}", platform.state_bucket)],
        volatile: !deploy,
    });
    step_id
}

fn access_step(cluster: &Cluster, needs: Vec<StepId>) -> Step {
    Step {
        id: id(&["access", &cluster.name]),
        work: Work::ClusterAccess {
            cluster: cluster.name.clone(),
            region: cluster.region.clone(),
            dir: infra_dir(&cluster.name),
        },
        needs,
        inputs: vec![],
        outputs: vec![format!(
            "API endpoint and certificate authority of {} (in memory)",
            cluster.name
        )],
        volatile: true,
    }
}

/// A Terraform step of a workload's link module (`infra/<cluster>/link`).
fn link_step(
    step: StepId,
    cluster: &str,
    mode: TerraformMode,
    needs: Vec<StepId>,
    output: String,
) -> Step {
    let module = flotilla_terraform::link_module(cluster);
    let dir = flotilla_terraform::module_key_dir(&module);
    Step {
        id: step,
        work: Work::Terraform {
            dir: dir.clone(),
            module,
            mode,
        },
        needs,
        inputs: vec![dir],
        outputs: vec![output],
        volatile: false,
    }
}

/// `31-elastic` for `helm/controlplane/manifests/31-elastic.yaml`: unique in its cluster.
fn file_stem(file: &str) -> &str {
    let base = file.rsplit('/').next().unwrap_or(file);
    base.strip_suffix(".yaml").unwrap_or(base)
}

fn cluster_steps(
    platform: &Platform,
    inputs: &GraphInputs,
    cluster: &Cluster,
    bootstrap: &StepId,
    workload: Option<&WorkloadWiring>,
    steps: &mut Vec<Step>,
) {
    let name = cluster.name.as_str();
    let tf = id(&["terraform", name]);
    // A cluster module reads no other state: every cluster's VPC and EKS are created at once.
    let mut tf_needs = vec![bootstrap.clone(), preflight_id(&cluster.region)];
    tf_needs.extend(workload.and_then(|w| w.controlplane_verified.clone()));
    steps.push(Step {
        id: tf.clone(),
        work: Work::Terraform {
            module: name.to_string(),
            dir: infra_dir(name),
            mode: TerraformMode::Apply,
        },
        needs: tf_needs,
        inputs: vec![infra_dir(name)],
        outputs: vec![format!("EKS cluster and VPC of {name}")],
        volatile: false,
    });
    // A workload's link to the controlplane, once both cluster modules are applied.
    let link = workload.map(|w| {
        let step = link_step(
            id(&["link", name]),
            name,
            TerraformMode::Apply,
            vec![tf.clone(), w.controlplane_terraform.clone()],
            format!(
                "{name} joined to {}: routes both ways, the private zone, external-dns held to its names",
                platform.controlplane().name
            ),
        );
        let link = step.id.clone();
        steps.push(step);
        link
    });
    let access = id(&["access", name]);
    let mut access_needs = vec![tf.clone()];
    if let Some(l) = &link
        && cluster.api_reached_through(platform.controlplane())
    {
        // The deploy reaches this API from inside the controlplane's VPC: through the link.
        access_needs.push(l.clone());
    }
    steps.push(access_step(cluster, access_needs));

    let crds_files = inputs.files(name, Phase::Crds);
    let crds = id(&["crds", name]);
    steps.push(Step {
        id: crds.clone(),
        inputs: crds_files.clone(),
        work: Work::Crds {
            cluster: name.to_string(),
            bundles: inputs.bundles_of(name),
            files: crds_files,
        },
        needs: vec![access.clone()],
        outputs: vec!["CustomResourceDefinitions no chart installs".into()],
        volatile: false,
    });
    let ns_files = inputs.files(name, Phase::Namespaces);
    let namespaces = id(&["namespaces", name]);
    steps.push(Step {
        id: namespaces.clone(),
        work: Work::Apply {
            cluster: name.to_string(),
            phase: Phase::Namespaces,
            files: ns_files.clone(),
        },
        needs: vec![crds.clone()],
        inputs: ns_files,
        outputs: vec!["namespaces with quotas, limits, network and admission policies".into()],
        volatile: false,
    });

    // Secrets the releases mount must exist before `helm --wait` can succeed; a workload's
    // releases talk to the controlplane (Kafka, Alertmanager, the private zone) over the link.
    let mut before_releases = vec![namespaces.clone()];
    before_releases.extend(link.clone());
    // The copies' target namespaces: only releases there wait for the copy.
    let mut copy_step: Option<(StepId, Vec<String>)> = None;
    if let Some(w) = workload {
        let copy = id(&["kafka-credentials", name]);
        steps.push(Step {
            id: copy.clone(),
            outputs: w
                .kafka_copies
                .iter()
                .map(|(_, to)| format!("Secret {to}"))
                .collect(),
            work: Work::CopySecrets {
                copies: w.kafka_copies.clone(),
            },
            needs: vec![
                namespaces.clone(),
                w.controlplane_access.clone(),
                w.controlplane_ready.clone(),
            ],
            inputs: vec![],
            volatile: false,
        });
        let mut targets: Vec<String> = w
            .kafka_copies
            .iter()
            .map(|(_, to)| to.namespace.clone())
            .collect();
        targets.dedup();
        copy_step = Some((copy, targets));
    } else {
        let secrets: Vec<ReceiverSecret> = platform
            .observability
            .receivers
            .iter()
            .map(|r| ReceiverSecret {
                receiver: r.name.clone(),
                secret_id: r.credentials_secret.clone(),
                target: wiring::receiver_secret(cluster, &r.name),
            })
            .collect();
        if !secrets.is_empty() {
            let rc = id(&["receiver-credentials", name]);
            steps.push(Step {
                id: rc.clone(),
                outputs: secrets
                    .iter()
                    .map(|s| format!("Secret {}", s.target))
                    .collect(),
                work: Work::ReceiverCredentials {
                    cluster: name.to_string(),
                    region: cluster.region.clone(),
                    secrets,
                },
                needs: vec![namespaces.clone()],
                inputs: vec![],
                volatile: false,
            });
            before_releases.push(rc);
        }
    }

    // One step per custom-resource manifest: after its operators' releases, before the
    // releases that read what the operators make of it (ECK's Secrets for Grafana).
    let cr_files = inputs.files(name, Phase::CustomResources);
    let resources_id = |file: &str| id(&["resources", name, file_stem(file)]);
    let mut resource_ids = Vec::new();
    for file in &cr_files {
        let rid = resources_id(file);
        let mut needs = vec![namespaces.clone()];
        needs.extend(inputs.needs_of(file).iter().map(|n| id(&["helm", name, n])));
        steps.push(Step {
            id: rid.clone(),
            work: Work::Apply {
                cluster: name.to_string(),
                phase: Phase::CustomResources,
                files: vec![file.clone()],
            },
            needs,
            inputs: vec![file.clone()],
            outputs: vec![format!("custom resources of {file}")],
            volatile: false,
        });
        resource_ids.push(rid);
    }

    let releases = inputs.releases_of(name);
    let mut release_ids = Vec::new();
    for r in releases {
        let rid = id(&["helm", name, &r.name]);
        let mut needs = before_releases.clone();
        if let Some((copy, targets)) = &copy_step
            && targets.contains(&r.namespace)
        {
            needs.push(copy.clone());
        }
        needs.extend(r.needs.iter().map(|n| id(&["helm", name, n])));
        needs.extend(r.needs_manifests.iter().map(|f| resources_id(f)));
        steps.push(Step {
            id: rid.clone(),
            work: Work::HelmInstall {
                cluster: name.to_string(),
                release: r.clone(),
            },
            needs,
            inputs: vec![r.values_file.clone()],
            outputs: vec![format!("release {} in namespace {}", r.name, r.namespace)],
            volatile: false,
        });
        release_ids.push(rid);
    }
    let mut namespaces_of_releases: Vec<String> =
        releases.iter().map(|r| r.namespace.clone()).collect();
    namespaces_of_releases.sort();
    namespaces_of_releases.dedup();
    let ready = id(&["readiness", name]);
    steps.push(Step {
        id: ready.clone(),
        work: Work::Readiness {
            cluster: name.to_string(),
            namespaces: namespaces_of_releases,
            files: cr_files.clone(),
        },
        needs: if release_ids.is_empty() && resource_ids.is_empty() {
            before_releases
                .into_iter()
                .chain(copy_step.map(|(c, _)| c))
                .collect()
        } else {
            release_ids.into_iter().chain(resource_ids).collect()
        },
        inputs: vec![],
        outputs: vec![format!("{name} ready")],
        volatile: true,
    });
    let mut all_files: Vec<String> = [Phase::Crds, Phase::Namespaces, Phase::CustomResources]
        .iter()
        .flat_map(|p| inputs.files(name, *p))
        .collect();
    all_files.sort();
    let prune = id(&["prune", name]);
    steps.push(Step {
        id: prune.clone(),
        work: Work::Prune {
            cluster: name.to_string(),
            files: all_files.clone(),
            protected: cluster.protected,
        },
        needs: vec![ready],
        inputs: all_files,
        outputs: vec![format!("{name}: nothing applied before and removed since")],
        volatile: false,
    });
    steps.push(Step {
        id: id(&["smoke", name]),
        work: Work::Smoke {
            cluster: name.to_string(),
            files: cr_files,
        },
        needs: vec![prune],
        inputs: vec![],
        outputs: vec![],
        volatile: true,
    });
}

/// Where a cluster keeps the inventory of what Flotilla applied (namespace, ConfigMap name):
/// pruning deletes only what is listed there.
pub const INVENTORY: (&str, &str) = ("kube-system", "flotilla-applied");

/// Why a destroy is refused before anything runs.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DestroyRefused {
    #[error(
        "{cluster} is protected in platform.toml; set `protected = false` for it, merge that change, then destroy"
    )]
    Protected { cluster: String },
    #[error("{}", if given.is_empty() { format!("destroy needs `--confirm {target}` (the environment's name, repeated)") } else { format!("`--confirm {given}` does not match the target `{target}`: repeat the environment's name, `--confirm {target}`") })]
    Confirmation { target: String, given: String },
    #[error("destroy takes one environment or the controlplane, not `all`")]
    All,
}

/// The reverse graph of one cluster: custom resources (finalizers awaited), Helm releases in
/// reverse dependency order, then Terraform (a workload's link before its cluster module).
/// Refuses protected clusters. For the controlplane a first step refuses while any workload's
/// link module still has resources (its VPC is joined to the controlplane's).
pub fn destroy_graph(
    platform: &Platform,
    inputs: &GraphInputs,
    target: &Target,
) -> Result<Result<Graph, GraphError>, DestroyRefused> {
    let cluster = match target {
        Target::All => return Err(DestroyRefused::All),
        Target::Controlplane => platform.controlplane(),
        Target::Environment(env) => platform
            .cluster_for_environment(env)
            .expect("target parsed against the platform"),
    };
    if cluster.protected {
        return Err(DestroyRefused::Protected {
            cluster: cluster.name.clone(),
        });
    }
    let name = cluster.name.as_str();
    let mut steps = Vec::new();
    let mut first_needs = Vec::new();
    if cluster.role == Role::Controlplane {
        let check = id(&["check-peers", name]);
        steps.push(Step {
            id: check.clone(),
            work: Work::CheckNoPeers {
                workloads: platform
                    .workload_clusters()
                    .map(|w| {
                        let module = flotilla_terraform::link_module(&w.name);
                        let dir = flotilla_terraform::module_key_dir(&module);
                        (module, dir)
                    })
                    .collect(),
            },
            needs: vec![],
            inputs: vec![],
            outputs: vec!["no workload cluster peers with the controlplane".into()],
            volatile: true,
        });
        first_needs.push(check);
    }
    // The committed module first: a cluster whose protection was just removed in platform.toml
    // still has EKS deletion protection on until this apply turns it off (a plan -destroy
    // cannot); on a cluster that was never protected it plans no change. It also initializes
    // Terraform for the access step on a fresh checkout.
    let unprotect = id(&["unprotect", name]);
    steps.push(Step {
        id: unprotect.clone(),
        work: Work::Terraform {
            module: name.to_string(),
            dir: infra_dir(name),
            mode: TerraformMode::Apply,
        },
        needs: first_needs,
        inputs: vec![infra_dir(name)],
        outputs: vec![format!(
            "{name} as committed: deletion protection off (protected = false)"
        )],
        volatile: false,
    });
    let access = id(&["access", name]);
    steps.push(access_step(cluster, vec![unprotect]));
    // Releases whose load balancers carry deletion protection get the current values (now
    // without it) before anything is uninstalled.
    let releases = inputs.releases_of(name);
    let mut unprotected = Vec::new();
    for r in releases.iter().filter(|r| r.holds_load_balancer_protection) {
        let rid = id(&["unprotect", name, &r.name]);
        steps.push(Step {
            id: rid.clone(),
            work: Work::HelmInstall {
                cluster: name.to_string(),
                release: r.clone(),
            },
            needs: vec![access.clone()],
            inputs: vec![r.values_file.clone()],
            outputs: vec![format!(
                "release {}: load balancer deletion protection off",
                r.name
            )],
            volatile: false,
        });
        unprotected.push(rid);
    }
    let cr_files = inputs.files(name, Phase::CustomResources);
    let delete_cr = id(&["delete-custom-resources", name]);
    steps.push(Step {
        id: delete_cr.clone(),
        work: Work::DeleteObjects {
            cluster: name.to_string(),
            files: cr_files.clone(),
        },
        needs: std::iter::once(access.clone()).chain(unprotected).collect(),
        inputs: cr_files,
        outputs: vec!["custom resources gone, finalizers done".into()],
        volatile: false,
    });
    // A release is uninstalled after every release that needs it.
    let mut release_ids = Vec::new();
    for r in releases.iter().rev() {
        let rid = id(&["uninstall", name, &r.name]);
        let mut needs = vec![delete_cr.clone()];
        for other in releases {
            if other.needs.contains(&r.name) {
                needs.push(id(&["uninstall", name, &other.name]));
            }
        }
        steps.push(Step {
            id: rid.clone(),
            work: Work::HelmUninstall {
                cluster: name.to_string(),
                release: r.clone(),
            },
            needs,
            inputs: vec![],
            outputs: vec![format!("release {} gone", r.name)],
            volatile: false,
        });
        release_ids.push(rid);
    }
    let mut tf_needs = if release_ids.is_empty() {
        vec![delete_cr]
    } else {
        release_ids
    };
    if cluster.role == Role::Workload {
        // The link goes first (its peering or attachment holds the VPC), after the releases
        // that used it.
        let step = link_step(
            id(&["link-destroy", name]),
            name,
            TerraformMode::Destroy,
            tf_needs,
            format!("{name} no longer joined to the controlplane"),
        );
        tf_needs = vec![step.id.clone()];
        steps.push(step);
    }
    let destroyed = id(&["terraform-destroy", name]);
    steps.push(Step {
        id: destroyed.clone(),
        work: Work::Terraform {
            module: name.to_string(),
            dir: infra_dir(name),
            mode: TerraformMode::Destroy,
        },
        needs: tf_needs,
        inputs: vec![infra_dir(name)],
        outputs: vec![format!("EKS cluster and VPC of {name} destroyed")],
        volatile: false,
    });
    let group = flotilla_terraform::eks_log_group(platform, cluster);
    steps.push(Step {
        id: id(&["delete-log-group", name]),
        work: Work::DeleteLogGroup {
            cluster: name.to_string(),
            region: cluster.region.clone(),
            group: group.clone(),
        },
        needs: vec![destroyed],
        inputs: vec![],
        outputs: vec![format!(
            "no log group {group} left: the cluster can be created again under its name"
        )],
        volatile: false,
    });
    Ok(Graph::new(steps))
}
