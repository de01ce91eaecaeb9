//! Who may decide: approver groups and their members. `policy check` reads them to check
//! that every group a gate waits for exists; the approval runtime, to check each decider.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::yaml::Place;

/// Group membership, as the runtime asks it. Implement it to take membership from your
/// identity provider; [`ApproversFile`] reads it from a small YAML file.
pub trait Approvers: Send + Sync {
    /// Whether `identity` is a member of `group`.
    fn is_member(&self, identity: &str, group: &str) -> bool;
    /// Whether `identity` belongs to any group (the test for a gate without `by`).
    fn is_approver(&self, identity: &str) -> bool;
    /// Whether the group exists (an approver may escalate only to a group that does).
    fn has_group(&self, group: &str) -> bool;
    /// Whether the group is named at all, even without members (an identity provider's
    /// word counts only for groups named here; see [`Vouched`]). By default, `has_group`.
    fn defines_group(&self, group: &str) -> bool {
        self.has_group(group)
    }
}

/// Group membership with an identity provider's word for one person: `identity` is also
/// a member of each of `groups` that `base` defines (a JWT's groups claim, say). Groups
/// `base` does not define are ignored, and everyone else's membership is `base`'s alone.
/// It borrows, so asking per request costs nothing.
///
/// It never lets a party decide: the requester and the agent are refused whatever their
/// groups.
#[derive(Clone, Copy)]
pub struct Vouched<'a> {
    base: &'a dyn Approvers,
    identity: &'a str,
    groups: &'a [String],
}

impl std::fmt::Debug for Vouched<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vouched")
            .field("identity", &self.identity)
            .field("groups", &self.groups)
            .finish_non_exhaustive()
    }
}

impl<'a> Vouched<'a> {
    /// `base`'s membership, plus `identity` in each of `groups` that `base` defines.
    pub fn new(base: &'a dyn Approvers, identity: &'a str, groups: &'a [String]) -> Vouched<'a> {
        Vouched {
            base,
            identity,
            groups,
        }
    }

    /// The vouched groups that count: those `base` defines.
    pub fn groups(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.groups
            .iter()
            .map(String::as_str)
            .filter(|g| self.base.defines_group(g))
    }

    fn is_them(&self, identity: &str) -> bool {
        crate::text::fold(identity) == crate::text::fold(self.identity)
    }
}

impl Approvers for Vouched<'_> {
    fn is_member(&self, identity: &str, group: &str) -> bool {
        self.base.is_member(identity, group)
            || (self.is_them(identity) && self.groups().any(|g| g == group))
    }

    fn is_approver(&self, identity: &str) -> bool {
        self.base.is_approver(identity)
            || (self.is_them(identity) && self.groups().next().is_some())
    }

    fn has_group(&self, group: &str) -> bool {
        self.base.has_group(group) || self.groups().any(|g| g == group)
    }

    fn defines_group(&self, group: &str) -> bool {
        self.base.defines_group(group)
    }
}

/// Approver groups read from YAML (or JSON):
///
/// ```yaml
/// groups:
///   finance: [alice, bob]
///   finance-leads: [carol]
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApproversFile {
    name: String,
    groups: BTreeMap<String, BTreeSet<String>>,
}

/// An approvers file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: invalid approvers file: {message}", crate::yaml::suffix(*place))]
pub struct ApproversError {
    /// The file.
    pub file: String,
    /// Where in the file, when known.
    pub place: Option<Place>,
    /// What is wrong.
    pub message: String,
}

#[derive(serde::Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "an approvers file: a `groups:` mapping of group names to lists of members"
)]
struct Raw {
    groups: crate::yaml::Unique<Vec<String>>,
}

impl ApproversFile {
    /// Reads a file.
    pub fn load(path: &Path) -> Result<ApproversFile, ApproversError> {
        let text = std::fs::read_to_string(path).map_err(|e| ApproversError {
            file: path.display().to_string(),
            place: None,
            message: e.to_string(),
        })?;
        ApproversFile::from_yaml(&path.display().to_string(), &text)
    }

    /// Reads YAML text (`name` is used in messages).
    pub fn from_yaml(name: &str, text: &str) -> Result<ApproversFile, ApproversError> {
        let err = |place, message| ApproversError {
            file: name.to_string(),
            place,
            message,
        };
        let raw: Raw = crate::yaml::from_str(text).map_err(|e| err(e.place, e.message))?;
        let mut groups = BTreeMap::new();
        for (group, members) in raw.groups.0 {
            if group.trim().is_empty() {
                return Err(err(None, "a group name is empty".into()));
            }
            let mut set = BTreeSet::new();
            for m in members {
                if m.trim().is_empty() || m.trim() != m {
                    return Err(err(
                        crate::yaml::key_place(text, &group),
                        format!("group `{group}` has an empty or padded member name `{m}`"),
                    ));
                }
                if m.chars().any(crate::text::is_hidden) {
                    return Err(err(
                        crate::yaml::key_place(text, &group),
                        format!(
                            "group `{group}` has a member name with a hidden character: {}",
                            crate::text::quoted(&m)
                        ),
                    ));
                }
                set.insert(m);
            }
            groups.insert(group, set);
        }
        Ok(ApproversFile {
            name: name.to_string(),
            groups,
        })
    }

    /// Builds from pairs of a group and its members.
    pub fn from_groups<'a>(
        groups: impl IntoIterator<Item = (&'a str, &'a [&'a str])>,
    ) -> ApproversFile {
        ApproversFile {
            name: String::new(),
            groups: groups
                .into_iter()
                .map(|(g, ms)| (g.to_string(), ms.iter().map(|m| m.to_string()).collect()))
                .collect(),
        }
    }

    /// Where it was read from, for messages (empty when built in code).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The groups, by name.
    pub fn groups(&self) -> impl Iterator<Item = (&str, impl Iterator<Item = &str>)> {
        self.groups
            .iter()
            .map(|(g, ms)| (g.as_str(), ms.iter().map(String::as_str)))
    }
}

/// Membership compares names as people read them ([`crate::fold`]): `Fiona` in the file
/// is `fiona` at the desk.
impl Approvers for ApproversFile {
    fn is_member(&self, identity: &str, group: &str) -> bool {
        let me = crate::text::fold(identity);
        self.groups
            .get(group)
            .is_some_and(|m| m.iter().any(|n| crate::text::fold(n) == me))
    }

    fn is_approver(&self, identity: &str) -> bool {
        let me = crate::text::fold(identity);
        self.groups
            .values()
            .any(|m| m.iter().any(|n| crate::text::fold(n) == me))
    }

    fn has_group(&self, group: &str) -> bool {
        self.groups.get(group).is_some_and(|m| !m.is_empty())
    }

    fn defines_group(&self, group: &str) -> bool {
        self.groups.contains_key(group)
    }
}
