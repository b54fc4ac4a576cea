//! The pinned versions file (`versions.toml` at the repository root).
//!
//! Versions are data: chart, CRD, Terraform module and provider, and tool versions live in that
//! one file. The file is compiled in ([`Versions::embedded`]) so that the pure crates never read
//! the disk, and parsed with unknown keys rejected.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The EKS managed add-ons every cluster runs (crates/terraform renders them; versions.toml pins
/// each one per Kubernetes version in `[eks_addons]`).
pub const EKS_ADDONS: [&str; 5] = [
    "aws-ebs-csi-driver",
    "coredns",
    "eks-pod-identity-agent",
    "kube-proxy",
    "vpc-cni",
];

/// The text of `versions.toml`, as compiled in.
pub const VERSIONS_TOML: &str = include_str!("../../../versions.toml");

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Versions {
    pub kubernetes: KubernetesVersions,
    pub terraform: TerraformVersions,
    /// EKS add-on name -> Kubernetes version -> add-on version.
    pub eks_addons: BTreeMap<String, BTreeMap<String, String>>,
    /// Chart name -> where it comes from and which version.
    pub charts: BTreeMap<String, Chart>,
    /// CRD bundles that no chart installs (Gateway API).
    pub crds: BTreeMap<String, CrdBundle>,
    pub stack: Stack,
    pub tools: Tools,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesVersions {
    pub supported: Vec<String>,
    /// EKS's release calendar: per Kubernetes version, when standard and extended support end.
    /// Empty in a versions.toml older than the calendar (a git baseline of `plan --from` or
    /// `cost --base`), whose clusters then have no known support phase.
    #[serde(default)]
    pub calendar: BTreeMap<String, SupportWindow>,
}

/// When EKS's standard and extended support of a Kubernetes version end (`YYYY-MM-DD`, as AWS's
/// table gives them: from that day on, the version is out of that support).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupportWindow {
    pub end_of_standard_support: String,
    pub end_of_extended_support: String,
}

impl SupportWindow {
    /// The end of standard support as a date; `None` when the text is not `YYYY-MM-DD`.
    pub fn standard_end(&self) -> Option<Date> {
        date(&self.end_of_standard_support)
    }

    /// The end of extended support as a date; `None` when the text is not `YYYY-MM-DD`.
    pub fn extended_end(&self) -> Option<Date> {
        date(&self.end_of_extended_support)
    }
}

/// A calendar date (the type `plan` and `cost` take today as).
pub use jiff::civil::Date;

/// A `YYYY-MM-DD` date.
pub fn date(text: &str) -> Option<Date> {
    Date::strptime("%Y-%m-%d", text).ok()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerraformVersions {
    pub required_version: String,
    pub providers: BTreeMap<String, Provider>,
    pub modules: BTreeMap<String, Module>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    pub source: String,
    pub version: String,
    /// A concrete release the constraint admits whose schema is in the reference data.
    #[serde(default)]
    pub reference: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Module {
    pub source: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chart {
    /// `oci://...` registry path or an HTTPS chart repository.
    pub repository: String,
    pub version: String,
    /// The chart's `kubeVersion` constraint at this version (its Chart.yaml), when it has one:
    /// an upgrade plan checks the target Kubernetes version against it.
    #[serde(default)]
    pub kube_version: Option<String>,
}

impl Chart {
    pub fn is_oci(&self) -> bool {
        self.repository.starts_with("oci://")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrdBundle {
    pub version: String,
    #[serde(default)]
    pub channel: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stack {
    pub elastic: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tools {
    pub terraform: String,
    pub helm: String,
    pub helm_diff: String,
    pub kubectl: String,
    pub awscli: String,
}

/// A versions file that does not parse or lacks an entry the code needs.
#[derive(Debug, thiserror::Error)]
#[error("versions.toml: {0}")]
pub struct VersionsError(String);

impl Versions {
    /// The compiled-in `versions.toml`. It is checked by a test, so this cannot fail at run time.
    pub fn embedded() -> Versions {
        Versions::parse(VERSIONS_TOML).expect("versions.toml is valid (tested)")
    }

    pub fn parse(text: &str) -> Result<Versions, VersionsError> {
        toml::from_str(text).map_err(|e| VersionsError(e.to_string()))
    }

    /// The pinned chart of this name. Renderers only ask for charts they know exist; a missing
    /// one is a programming error caught by the tests.
    pub fn chart(&self, name: &str) -> &Chart {
        self.charts
            .get(name)
            .unwrap_or_else(|| panic!("chart {name} is not pinned in versions.toml"))
    }

    /// The pinned version of an EKS add-on for a Kubernetes version; `None` when versions.toml
    /// has none (validation reports that at the cluster's `kubernetes_version`).
    pub fn eks_addon(&self, addon: &str, kubernetes: &str) -> Option<&str> {
        self.eks_addons
            .get(addon)
            .and_then(|v| v.get(kubernetes))
            .map(String::as_str)
    }

    pub fn module(&self, name: &str) -> &Module {
        self.terraform
            .modules
            .get(name)
            .unwrap_or_else(|| panic!("module {name} is not pinned in versions.toml"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every supported version has its support window, dates that parse, extended support
    /// after standard, and later versions ending later.
    #[test]
    fn every_supported_version_has_its_eks_support_window() {
        let v = Versions::embedded();
        let mut last = Date::MIN;
        for k in &v.kubernetes.supported {
            let w = v
                .kubernetes
                .calendar
                .get(k)
                .unwrap_or_else(|| panic!("{k}"));
            let standard = w.standard_end().expect("a date");
            let extended = w.extended_end().expect("a date");
            assert!(standard < extended, "{k}");
            assert!(standard > last, "{k}");
            last = standard;
        }
    }

    /// A versions.toml from before the calendar (a git baseline of `plan --from`) still parses,
    /// with no support dates.
    #[test]
    fn a_versions_toml_without_the_calendar_is_a_baseline_with_no_dates() {
        let start = VERSIONS_TOML.find("[kubernetes.calendar]").unwrap();
        let end = start + VERSIONS_TOML[start..].find("\n\n").unwrap();
        let old = format!("{}{}", &VERSIONS_TOML[..start], &VERSIONS_TOML[end..]);
        assert!(!old.contains("end_of_standard_support"));
        let v = Versions::parse(&old).unwrap();
        assert!(v.kubernetes.calendar.is_empty());
        assert_eq!(
            v.kubernetes.supported,
            Versions::embedded().kubernetes.supported
        );
    }

    #[test]
    fn embedded_versions_parse() {
        let v = Versions::embedded();
        assert!(v.kubernetes.supported.len() >= 2);
        assert!(v.charts.contains_key("kube-prometheus-stack"));
        assert_eq!(v.module("eks").source, "terraform-aws-modules/eks/aws");
    }

    /// Every supported Kubernetes version has a pinned version of every add-on, and the
    /// add-on tables name no other Kubernetes version.
    #[test]
    fn every_supported_kubernetes_version_pins_every_addon() {
        let v = Versions::embedded();
        let pinned: Vec<&str> = v.eks_addons.keys().map(String::as_str).collect();
        assert_eq!(
            pinned, EKS_ADDONS,
            "versions.toml pins exactly the add-ons every cluster runs"
        );
        for (addon, by_version) in &v.eks_addons {
            let versions: Vec<&String> = by_version.keys().collect();
            let supported: Vec<&String> = v.kubernetes.supported.iter().collect();
            assert_eq!(versions, supported, "{addon}");
            for version in by_version.values() {
                assert!(
                    version.starts_with('v') && version.contains("-eksbuild."),
                    "{addon}: {version} is not an EKS add-on version"
                );
            }
        }
    }

    #[test]
    fn unknown_key_in_versions_is_rejected() {
        let text = VERSIONS_TOML.replace("[tools]", "[tools]\nhelmfile = \"1\"");
        let err = Versions::parse(&text).unwrap_err().to_string();
        assert!(err.contains("helmfile"), "{err}");
    }
}
