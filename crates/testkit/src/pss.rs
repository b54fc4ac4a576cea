//! The Pod Security Standards, as Pod Security Admission enforces them at Kubernetes v1.34
//! (kubernetes/pod-security-admission v0.34.x `policy/check_*.go`): every control of `baseline`
//! and `restricted`, over a pod spec as JSON. "Containers" are `initContainers`, `containers` and
//! `ephemeralContainers`. Restricted includes every baseline control, with its own stricter
//! variant of volumes, seccomp and capabilities.
//!
//! Used by the tests that check every pod Flotilla creates or configures against the level its
//! namespace enforces (`pod-security.kubernetes.io/enforce`).

use std::fmt;

use serde_json::Value;

/// A Pod Security Standard level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Privileged,
    Baseline,
    Restricted,
}

impl Level {
    /// The value of `pod-security.kubernetes.io/enforce`.
    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "privileged" => Some(Level::Privileged),
            "baseline" => Some(Level::Baseline),
            "restricted" => Some(Level::Restricted),
            _ => None,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Privileged => "privileged",
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        })
    }
}

/// One control a pod fails, by the control's name in the Pod Security Standards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub control: &'static str,
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.control, self.detail)
    }
}

/// Capabilities `baseline` allows to be added.
const BASELINE_CAPABILITIES: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// Sysctls `baseline` allows (the safe set, as of v1.34).
const SAFE_SYSCTLS: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
];

/// SELinux types `baseline` allows.
const SELINUX_TYPES: &[&str] = &[
    "",
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

/// Volume sources `restricted` allows.
const RESTRICTED_VOLUMES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

fn containers(spec: &Value) -> Vec<(&str, &Value)> {
    let mut out = Vec::new();
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        for c in spec[list].as_array().into_iter().flatten() {
            out.push((c["name"].as_str().unwrap_or("?"), c));
        }
    }
    out
}

fn truthy(v: &Value) -> bool {
    v.as_bool() == Some(true)
}

/// Every violation of `level` by a pod spec (and its pod's annotations, for AppArmor).
pub fn check(spec: &Value, annotations: &Value, level: Level) -> Vec<Violation> {
    let mut out = Vec::new();
    if level == Level::Privileged {
        return out;
    }
    let mut v = |control: &'static str, detail: String| out.push(Violation { control, detail });
    let pod_sc = &spec["securityContext"];
    let cs = containers(spec);

    // --- baseline -----------------------------------------------------------------------------
    for field in ["hostNetwork", "hostPID", "hostIPC"] {
        if truthy(&spec[field]) {
            v("Host Namespaces", format!("{field} is true"));
        }
    }
    for (name, c) in &cs {
        if truthy(&c["securityContext"]["privileged"]) {
            v(
                "Privileged Containers",
                format!("container {name} is privileged"),
            );
        }
    }
    if level == Level::Baseline {
        for (name, c) in &cs {
            for cap in c["securityContext"]["capabilities"]["add"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let cap = cap.as_str().unwrap_or("");
                if !BASELINE_CAPABILITIES.contains(&cap) {
                    v("Capabilities", format!("container {name} adds {cap}"));
                }
            }
        }
        for vol in spec["volumes"].as_array().into_iter().flatten() {
            if !vol["hostPath"].is_null() {
                v(
                    "HostPath Volumes",
                    format!(
                        "volume {} is a hostPath",
                        vol["name"].as_str().unwrap_or("?")
                    ),
                );
            }
        }
    }
    for (name, c) in &cs {
        for p in c["ports"].as_array().into_iter().flatten() {
            if p["hostPort"].as_i64().is_some_and(|h| h != 0) {
                v(
                    "Host Ports",
                    format!("container {name} uses hostPort {}", p["hostPort"]),
                );
            }
        }
    }
    // AppArmor: annotations and fields.
    if let Some(map) = annotations.as_object() {
        for (k, val) in map {
            if k.starts_with("container.apparmor.security.beta.kubernetes.io/") {
                let s = val.as_str().unwrap_or("");
                if !(s.is_empty() || s == "runtime/default" || s.starts_with("localhost/")) {
                    v("AppArmor", format!("annotation {k} is {s}"));
                }
            }
        }
    }
    let apparmor = |sc: &Value, who: &str, v: &mut dyn FnMut(&'static str, String)| {
        if let Some(t) = sc["appArmorProfile"]["type"].as_str()
            && t != "RuntimeDefault"
            && t != "Localhost"
        {
            v("AppArmor", format!("{who} appArmorProfile {t}"));
        }
    };
    apparmor(pod_sc, "the pod", &mut v);
    for (name, c) in &cs {
        apparmor(&c["securityContext"], &format!("container {name}"), &mut v);
    }
    // SELinux.
    let selinux = |sc: &Value, who: &str, v: &mut dyn FnMut(&'static str, String)| {
        let o = &sc["seLinuxOptions"];
        if let Some(t) = o["type"].as_str()
            && !SELINUX_TYPES.contains(&t)
        {
            v("SELinux", format!("{who} seLinuxOptions.type {t}"));
        }
        for f in ["user", "role"] {
            if o[f].as_str().is_some_and(|s| !s.is_empty()) {
                v("SELinux", format!("{who} sets seLinuxOptions.{f}"));
            }
        }
    };
    selinux(pod_sc, "the pod", &mut v);
    for (name, c) in &cs {
        selinux(&c["securityContext"], &format!("container {name}"), &mut v);
    }
    // /proc mount.
    for (name, c) in &cs {
        if let Some(m) = c["securityContext"]["procMount"].as_str()
            && m != "Default"
        {
            v(
                "/proc Mount Type",
                format!("container {name} procMount {m}"),
            );
        }
    }
    // Seccomp (baseline: no Unconfined anywhere).
    let seccomp_type = |sc: &Value| sc["seccompProfile"]["type"].as_str().map(str::to_string);
    if let Some(t) = seccomp_type(pod_sc)
        && t == "Unconfined"
    {
        v("Seccomp", "the pod's seccompProfile is Unconfined".into());
    }
    for (name, c) in &cs {
        if seccomp_type(&c["securityContext"]).as_deref() == Some("Unconfined") {
            v(
                "Seccomp",
                format!("container {name} seccompProfile is Unconfined"),
            );
        }
    }
    // Sysctls.
    for s in pod_sc["sysctls"].as_array().into_iter().flatten() {
        let n = s["name"].as_str().unwrap_or("");
        if !SAFE_SYSCTLS.contains(&n) {
            v("Sysctls", format!("sysctl {n} is not in the safe set"));
        }
    }
    // Windows HostProcess.
    if truthy(&pod_sc["windowsOptions"]["hostProcess"]) {
        v("HostProcess", "the pod is a Windows HostProcess pod".into());
    }
    for (name, c) in &cs {
        if truthy(&c["securityContext"]["windowsOptions"]["hostProcess"]) {
            v(
                "HostProcess",
                format!("container {name} is a HostProcess container"),
            );
        }
    }
    // Probes and lifecycle hooks with a host (new in 1.34).
    for (name, c) in &cs {
        let mut hooks: Vec<(&str, &Value)> = ["livenessProbe", "readinessProbe", "startupProbe"]
            .iter()
            .map(|p| (*p, &c[*p]))
            .collect();
        hooks.push(("lifecycle.postStart", &c["lifecycle"]["postStart"]));
        hooks.push(("lifecycle.preStop", &c["lifecycle"]["preStop"]));
        for (what, h) in hooks {
            for kind in ["httpGet", "tcpSocket"] {
                if h[kind]["host"].as_str().is_some_and(|s| !s.is_empty()) {
                    v(
                        "Probes and lifecycle hooks",
                        format!("container {name} {what}.{kind}.host is set"),
                    );
                }
            }
        }
    }
    if level == Level::Baseline {
        return out;
    }

    // --- restricted ---------------------------------------------------------------------------
    for vol in spec["volumes"].as_array().into_iter().flatten() {
        let name = vol["name"].as_str().unwrap_or("?");
        let kinds: Vec<&String> = vol
            .as_object()
            .map(|m| m.keys().filter(|k| *k != "name").collect())
            .unwrap_or_default();
        for k in kinds {
            if !RESTRICTED_VOLUMES.contains(&k.as_str()) {
                v("Volume Types", format!("volume {name} is a {k}"));
            }
        }
    }
    for (name, c) in &cs {
        if c["securityContext"]["allowPrivilegeEscalation"].as_bool() != Some(false) {
            v(
                "Privilege Escalation",
                format!("container {name} does not set allowPrivilegeEscalation: false"),
            );
        }
    }
    // Running as non-root: the pod says so and no container says otherwise, or every container.
    let pod_non_root = pod_sc["runAsNonRoot"].as_bool();
    for (name, c) in &cs {
        let own = c["securityContext"]["runAsNonRoot"].as_bool();
        match (own, pod_non_root) {
            (Some(false), _) => v(
                "Running as Non-root",
                format!("container {name} sets runAsNonRoot: false"),
            ),
            (Some(true), _) | (None, Some(true)) => {}
            (None, _) => v(
                "Running as Non-root",
                format!(
                    "container {name} may run as root (no runAsNonRoot: true on it or the pod)"
                ),
            ),
        }
    }
    if pod_sc["runAsUser"].as_i64() == Some(0) {
        v(
            "Running as Non-root user",
            "the pod sets runAsUser: 0".into(),
        );
    }
    for (name, c) in &cs {
        if c["securityContext"]["runAsUser"].as_i64() == Some(0) {
            v(
                "Running as Non-root user",
                format!("container {name} sets runAsUser: 0"),
            );
        }
    }
    // Seccomp (restricted: RuntimeDefault or Localhost, at the pod or on every container).
    let allowed = |t: &Option<String>| matches!(t.as_deref(), Some("RuntimeDefault" | "Localhost"));
    let pod_seccomp = seccomp_type(pod_sc);
    for (name, c) in &cs {
        let own = seccomp_type(&c["securityContext"]);
        let ok = match &own {
            Some(_) => allowed(&own),
            None => allowed(&pod_seccomp),
        };
        if !ok {
            v(
                "Seccomp",
                format!(
                    "container {name} has no seccompProfile RuntimeDefault or Localhost (nor the pod)"
                ),
            );
        }
    }
    for (name, c) in &cs {
        let caps = &c["securityContext"]["capabilities"];
        let drops_all = caps["drop"]
            .as_array()
            .is_some_and(|d| d.iter().any(|x| x == "ALL"));
        if !drops_all {
            v(
                "Capabilities",
                format!("container {name} does not drop ALL capabilities"),
            );
        }
        for cap in caps["add"].as_array().into_iter().flatten() {
            if cap != "NET_BIND_SERVICE" {
                v("Capabilities", format!("container {name} adds {cap}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A pod that meets `restricted`.
    fn restricted_pod() -> Value {
        json!({
            "securityContext": { "runAsNonRoot": true, "seccompProfile": { "type": "RuntimeDefault" } },
            "containers": [{
                "name": "app",
                "securityContext": {
                    "allowPrivilegeEscalation": false,
                    "capabilities": { "drop": ["ALL"] },
                },
            }],
            "volumes": [{ "name": "config", "configMap": { "name": "c" } }],
        })
    }

    fn controls(spec: &Value, level: Level) -> Vec<&'static str> {
        check(spec, &Value::Null, level)
            .into_iter()
            .map(|v| v.control)
            .collect()
    }

    #[test]
    fn a_compliant_pod_passes_every_level() {
        for level in [Level::Privileged, Level::Baseline, Level::Restricted] {
            assert!(controls(&restricted_pod(), level).is_empty(), "{level}");
        }
    }

    /// Each control can fail: one edit of the compliant pod per control, at the level where it
    /// applies (and baseline controls fail at restricted too).
    #[test]
    fn every_control_can_fail() {
        type Edit = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(&str, Level, Edit)> = vec![
            (
                "Host Namespaces",
                Level::Baseline,
                Box::new(|p| p["hostNetwork"] = json!(true)),
            ),
            (
                "Host Namespaces",
                Level::Baseline,
                Box::new(|p| p["hostPID"] = json!(true)),
            ),
            (
                "Privileged Containers",
                Level::Baseline,
                Box::new(|p| p["containers"][0]["securityContext"]["privileged"] = json!(true)),
            ),
            (
                "Capabilities",
                Level::Baseline,
                Box::new(|p| {
                    p["containers"][0]["securityContext"]["capabilities"]["add"] =
                        json!(["NET_RAW"])
                }),
            ),
            (
                "HostPath Volumes",
                Level::Baseline,
                Box::new(|p| {
                    p["volumes"] = json!([{ "name": "h", "hostPath": { "path": "/var/log" } }])
                }),
            ),
            (
                "Host Ports",
                Level::Baseline,
                Box::new(|p| {
                    p["containers"][0]["ports"] = json!([{ "containerPort": 80, "hostPort": 80 }])
                }),
            ),
            (
                "AppArmor",
                Level::Baseline,
                Box::new(|p| {
                    p["securityContext"]["appArmorProfile"] = json!({ "type": "Unconfined" })
                }),
            ),
            (
                "SELinux",
                Level::Baseline,
                Box::new(|p| p["securityContext"]["seLinuxOptions"] = json!({ "type": "spc_t" })),
            ),
            (
                "SELinux",
                Level::Baseline,
                Box::new(|p| {
                    p["containers"][0]["securityContext"]["seLinuxOptions"] =
                        json!({ "user": "root" })
                }),
            ),
            (
                "/proc Mount Type",
                Level::Baseline,
                Box::new(|p| {
                    p["containers"][0]["securityContext"]["procMount"] = json!("Unmasked")
                }),
            ),
            (
                "Seccomp",
                Level::Baseline,
                Box::new(|p| {
                    p["securityContext"]["seccompProfile"] = json!({ "type": "Unconfined" })
                }),
            ),
            (
                "Sysctls",
                Level::Baseline,
                Box::new(|p| {
                    p["securityContext"]["sysctls"] =
                        json!([{ "name": "kernel.msgmax", "value": "1" }])
                }),
            ),
            (
                "HostProcess",
                Level::Baseline,
                Box::new(|p| {
                    p["securityContext"]["windowsOptions"] = json!({ "hostProcess": true })
                }),
            ),
            (
                "Probes and lifecycle hooks",
                Level::Baseline,
                Box::new(|p| {
                    p["containers"][0]["livenessProbe"] =
                        json!({ "httpGet": { "host": "10.0.0.1", "port": 80 } })
                }),
            ),
            (
                "Volume Types",
                Level::Restricted,
                Box::new(|p| {
                    p["volumes"] = json!([{ "name": "n", "nfs": { "server": "x", "path": "/" } }])
                }),
            ),
            (
                "Privilege Escalation",
                Level::Restricted,
                Box::new(|p| {
                    p["containers"][0]["securityContext"]
                        .as_object_mut()
                        .unwrap()
                        .remove("allowPrivilegeEscalation");
                }),
            ),
            (
                "Running as Non-root",
                Level::Restricted,
                Box::new(|p| {
                    p["securityContext"]
                        .as_object_mut()
                        .unwrap()
                        .remove("runAsNonRoot");
                }),
            ),
            (
                "Running as Non-root user",
                Level::Restricted,
                Box::new(|p| p["containers"][0]["securityContext"]["runAsUser"] = json!(0)),
            ),
            // The ECK operator's case (F2 of the Kubernetes review): no seccomp profile at all.
            (
                "Seccomp",
                Level::Restricted,
                Box::new(|p| {
                    p["securityContext"]
                        .as_object_mut()
                        .unwrap()
                        .remove("seccompProfile");
                }),
            ),
            (
                "Capabilities",
                Level::Restricted,
                Box::new(|p| {
                    p["containers"][0]["securityContext"]["capabilities"] =
                        json!({ "drop": ["NET_RAW"] })
                }),
            ),
            (
                "Capabilities",
                Level::Restricted,
                Box::new(|p| {
                    p["containers"][0]["securityContext"]["capabilities"]["add"] = json!(["CHOWN"])
                }),
            ),
        ];
        for (control, level, edit) in &cases {
            let mut pod = restricted_pod();
            edit(&mut pod);
            let got = controls(&pod, *level);
            assert!(got.contains(control), "{control} at {level}: got {got:?}");
            if *level == Level::Baseline {
                // Restricted replaces the hostPath control by its volume type allowlist.
                let at_restricted = match *control {
                    "HostPath Volumes" => "Volume Types",
                    c => c,
                };
                let got = controls(&pod, Level::Restricted);
                assert!(
                    got.contains(&at_restricted),
                    "{control} at restricted: got {got:?}"
                );
            }
            assert!(controls(&pod, Level::Privileged).is_empty());
        }
        // AppArmor through the annotation, too.
        let annotations =
            json!({ "container.apparmor.security.beta.kubernetes.io/app": "unconfined" });
        let got: Vec<_> = check(&restricted_pod(), &annotations, Level::Baseline)
            .into_iter()
            .map(|v| v.control)
            .collect();
        assert_eq!(got, ["AppArmor"]);
    }

    #[test]
    fn the_baseline_capability_list_and_the_restricted_exception_hold() {
        let mut pod = restricted_pod();
        pod["containers"][0]["securityContext"]["capabilities"]["add"] =
            json!(["NET_BIND_SERVICE"]);
        assert!(controls(&pod, Level::Restricted).is_empty());
        pod["containers"][0]["securityContext"]["capabilities"]["add"] = json!(["CHOWN"]);
        assert!(controls(&pod, Level::Baseline).is_empty());
    }
}
