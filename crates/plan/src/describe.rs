//! The dry-run text of a step: its exact commands and API calls, one per line (`--dry-run`,
//! `plan`, and the inputs hash of the journal). Pure: what it needs from the disk is passed in.

use std::collections::BTreeMap;

use crate::FIELD_MANAGER;
use crate::commands::*;
use crate::graph::{Step, TerraformMode, Work};
use crate::invocation::Invocation;

/// The endpoint a step talks to: the override when set, else what DescribeCluster said.
fn endpoint_for(overrides: &BTreeMap<String, String>, cluster: &str) -> String {
    overrides
        .get(cluster)
        .cloned()
        .unwrap_or_else(|| format!("<endpoint of {cluster} from DescribeCluster>"))
}

/// The exact commands and API calls of a step, one per line (`--dry-run`, `plan`).
///
/// `objects` lists the objects of a manifest file (their API paths) where the caller has them
/// (`None`: the file is not generated yet); the description never reads the disk itself.
pub fn describe(
    step: &Step,
    paths: &Paths,
    timeouts: &Timeouts,
    endpoints: &BTreeMap<String, String>,
    objects: &dyn Fn(&str) -> Option<Vec<String>>,
) -> Vec<String> {
    let cmd = |i: Invocation| format!("$ {i}");
    match &step.work {
        Work::DeleteLogGroup { region, group, .. } => vec![format!(
            "aws logs DeleteLogGroup logGroupName={group} region={region} (none there: nothing to do)"
        )],
        Work::Preflight {
            region,
            quotas,
            addons,
            clusters,
        } => {
            let mut v = vec![format!(
                "aws service-quotas GetServiceQuota region={region} (GetAWSDefaultServiceQuota where the account never changed it), each at least what the platform needs:"
            )];
            for q in quotas {
                v.push(format!(
                    "  {} {}: {} ({})",
                    q.quota.service, q.quota.code, q.need, q.quota.name
                ));
            }
            for a in addons {
                v.push(format!(
                    "aws eks DescribeAddonVersions addonName={} kubernetesVersion={} region={region}: offers {}",
                    a.addon, a.kubernetes, a.version
                ));
            }
            for c in clusters {
                v.push(format!(
                    "aws eks DescribeCluster name={} region={region}: not there yet, or running a version EKS can move to {} ({}: never down, one minor version at a time)",
                    c.eks_name, c.kubernetes, c.cluster
                ));
            }
            v.push("stop before any Terraform step when a quota is short, a pin is not offered or a version change is one EKS refuses".into());
            v
        }
        Work::Bootstrap {
            dir,
            bucket,
            region,
            deploy,
        } => {
            let state = format!("{dir}/{BOOTSTRAP_STATE}");
            let mut v = vec![format!(
                "with the local state {state} on this machine: Terraform decides"
            )];
            v.push(format!("  {}", cmd(tf_init(paths, dir, "bootstrap"))));
            if *deploy {
                for i in [
                    tf_plan(paths, dir, "bootstrap", false),
                    tf_show(paths, dir, "bootstrap"),
                ] {
                    v.push(format!("  {}", cmd(i)));
                }
                v.push("  show the change counts; ask (or --yes); skip apply when nothing changes".into());
                v.push(format!("  {}", cmd(tf_apply(paths, dir, "bootstrap"))));
                v.push(format!(
                    "without it (a CI runner): aws s3 HeadBucket bucket={bucket} region={region}"
                ));
                v.push(
                    "  exists: not re-applied from a machine without its state; missing: init, plan -out, show, ask (or --yes), apply as above (creates it)"
                        .into(),
                );
            } else {
                v.push(format!("  {}", cmd(tf_verify(paths, dir, "bootstrap"))));
                v.push("  exit 0: deployed and current; 2: changes pending (pass --with-dependencies)".into());
                v.push(format!(
                    "without it (a CI runner): aws s3 HeadBucket bucket={bucket} region={region}"
                ));
                v.push(
                    "  exists: deployed (its settings are not compared without the state); missing: stop (--with-dependencies creates it)"
                        .into(),
                );
            }
            v
        }
        Work::Terraform { module, dir, mode } => match mode {
            TerraformMode::Apply | TerraformMode::Destroy => vec![
                cmd(tf_init(paths, dir, module)),
                cmd(tf_plan(paths, dir, module, *mode == TerraformMode::Destroy)),
                cmd(tf_show(paths, dir, module)),
                "show the change counts; ask (or --yes); skip apply when nothing changes".into(),
                cmd(tf_apply(paths, dir, module)),
            ],
            TerraformMode::Verify => vec![
                cmd(tf_init(paths, dir, module)),
                cmd(tf_verify(paths, dir, module)),
                "exit 0: deployed and current; 2: changes pending (deploy it first or pass --with-dependencies)".into(),
            ],
        },
        Work::ClusterAccess {
            cluster,
            region,
            dir,
        } => {
            let mut v = vec![
                cmd(tf_output(paths, dir, cluster)),
                format!(
                    "aws eks DescribeCluster name=<output cluster_name> region={region} -> endpoint, certificate authority"
                ),
                format!(
                    "write {} (certificate authority, public)",
                    path_text(&paths.ca_file(cluster))
                ),
            ];
            if let Some(e) = endpoints.get(cluster) {
                v.push(format!("Kubernetes endpoint overridden: {e}"));
            }
            v.push(format!(
                "EKS token: presigned sts GetCallerIdentity (x-k8s-aws-id=<cluster_name>, region {region}), made fresh for every call"
            ));
            v.push(format!("kube GET {}/version", endpoint_for(endpoints, cluster)));
            v
        }
        Work::Crds {
            cluster,
            bundles,
            files,
        } => {
            let mut v = Vec::new();
            if !bundles.is_empty() {
                v.push(format!(
                    "write {} (0600, removed after the step; never the user's kubeconfig)",
                    path_text(&paths.kubeconfig(cluster))
                ));
            }
            for b in bundles {
                v.push(cmd(kubectl_apply_url(paths, cluster, &b.url)));
                v.push(cmd(kubectl_wait_established(
                    paths, cluster, &b.url, timeouts,
                )));
            }
            v.extend(apply_lines(cluster, files, endpoints, objects));
            if v.is_empty() {
                v.push("nothing to apply".into());
            }
            v
        }
        Work::Apply { cluster, files, .. } => {
            let v = apply_lines(cluster, files, endpoints, objects);
            if v.is_empty() {
                vec!["nothing to apply".into()]
            } else {
                v
            }
        }
        Work::HelmInstall { cluster, release } => {
            let e = endpoint_for(endpoints, cluster);
            let mut v: Vec<String> = release
                .needs_secrets
                .iter()
                .map(|s| {
                    format!(
                        "kube GET {e}/api/v1/namespaces/{}/secrets/{}: exists (an operator writes it)",
                        s.namespace, s.name
                    )
                })
                .collect();
            if !v.is_empty() {
                v.push(format!(
                    "poll every {}s, give up after {}s",
                    timeouts.poll.as_secs(),
                    timeouts.ready.as_secs()
                ));
            }
            v.push(
                cmd(helm_install(paths, cluster, &e, release, timeouts))
                    .replace("$ ", "$ HELM_KUBETOKEN=<EKS token> "),
            );
            v
        }
        Work::HelmUninstall { cluster, release } => vec![cmd(helm_uninstall(
            paths,
            cluster,
            &endpoint_for(endpoints, cluster),
            release,
            timeouts,
        ))
        .replace("$ ", "$ HELM_KUBETOKEN=<EKS token> ")],
        Work::Readiness {
            cluster,
            namespaces,
            files,
        } => {
            let e = endpoint_for(endpoints, cluster);
            let mut v: Vec<String> = namespaces
                .iter()
                .flat_map(|ns| {
                    [
                        format!("kube GET {e}/apis/apps/v1/namespaces/{ns}/deployments: every one available"),
                        format!("kube GET {e}/apis/apps/v1/namespaces/{ns}/statefulsets: every one ready"),
                    ]
                })
                .collect();
            for f in files {
                v.push(format!(
                    "kube GET each object of {f}: Ready/Programmed/health green where the kind reports it"
                ));
            }
            v.push(format!(
                "poll every {}s, give up after {}s",
                timeouts.poll.as_secs(),
                timeouts.ready.as_secs()
            ));
            v
        }
        Work::CopySecrets { copies } => copies
            .iter()
            .flat_map(|(from, to)| {
                [
                    format!(
                        "kube GET {}/api/v1/namespaces/{}/secrets/{} ({})",
                        endpoint_for(endpoints, &from.cluster),
                        from.namespace,
                        from.name,
                        from.cluster
                    ),
                    format!(
                        "kube PATCH (apply, fieldManager={FIELD_MANAGER}, force) {}/api/v1/namespaces/{}/secrets/{} ({})",
                        endpoint_for(endpoints, &to.cluster),
                        to.namespace,
                        to.name,
                        to.cluster
                    ),
                ]
            })
            .collect(),
        Work::ReceiverCredentials {
            cluster,
            region,
            secrets,
        } => secrets
            .iter()
            .flat_map(|s| {
                [
                    format!(
                        "aws secretsmanager GetSecretValue secret-id={} region={region}",
                        s.secret_id
                    ),
                    format!(
                        "kube PATCH (apply, fieldManager={FIELD_MANAGER}, force) {}/api/v1/namespaces/{}/secrets/{} key {}",
                        endpoint_for(endpoints, cluster),
                        s.target.namespace,
                        s.target.name,
                        crate::wiring::RECEIVER_SECRET_KEY
                    ),
                ]
            })
            .collect(),
        Work::Prune {
            cluster,
            files,
            protected,
        } => {
            let e = endpoint_for(endpoints, cluster);
            let (ns, name) = crate::graph::INVENTORY;
            let mut v = vec![
                format!("kube GET {e}/api/v1/namespaces/{ns}/configmaps/{name}: the objects Flotilla applied before"),
                format!(
                    "kube DELETE {e} each of them the committed manifests no longer have, namespaces last{}",
                    if *protected {
                        " (a protected namespace only with --confirm-prune: annotated flotilla.io/delete-confirmed=<name> first)"
                    } else {
                        ""
                    }
                ),
            ];
            v.push(format!(
                "kube PATCH (apply, fieldManager={FIELD_MANAGER}, force) {e}/api/v1/namespaces/{ns}/configmaps/{name}: the objects of {}",
                files.join(", ")
            ));
            v
        }
        Work::Smoke { cluster, files } => {
            let e = endpoint_for(endpoints, cluster);
            let mut v = vec![
                format!("kube GET {e}/version"),
                format!("kube GET {e}/api/v1/nodes: at least one, every one Ready"),
            ];
            if !files.is_empty() {
                v.push("custom resources still ready (no wait)".into());
            }
            v
        }
        Work::DeleteObjects { cluster, files } => {
            let e = endpoint_for(endpoints, cluster);
            let mut v: Vec<String> = files
                .iter()
                .rev()
                .map(|f| format!("kube DELETE {e} every object of {f} (reverse order)"))
                .collect();
            v.push(format!(
                "wait until each is gone (finalizers), give up after {}s",
                timeouts.ready.as_secs()
            ));
            v
        }
        Work::CheckNoPeers { workloads } => {
            let mut v = Vec::new();
            for (name, dir) in workloads {
                v.push(cmd(tf_init(paths, dir, name)));
                v.push(cmd(tf_state_list(paths, dir, name)));
            }
            v.push("refuse while any workload's link module still has resources (its VPC is joined to the controlplane's)".into());
            v
        }
    }
}

fn apply_lines(
    cluster: &str,
    files: &[String],
    endpoints: &BTreeMap<String, String>,
    objects: &dyn Fn(&str) -> Option<Vec<String>>,
) -> Vec<String> {
    let e = endpoint_for(endpoints, cluster);
    files
        .iter()
        .map(|f| {
            match objects(f) {
                Some(objs) => {
                    let mut s = format!(
                        "kube PATCH (apply, fieldManager={FIELD_MANAGER}, force) {e} each object of {f}:"
                    );
                    for o in objs {
                        s.push_str(&format!("\n      {o}"));
                    }
                    s
                }
                None => format!(
                    "kube PATCH (apply, fieldManager={FIELD_MANAGER}, force) {e} each object of {f} (not on disk here: objects listed once generated)"
                ),
            }
        })
        .collect()
}
