//! `policy serve --demo`: tokens for a newcomer and a few of the example's sample calls,
//! submitted as the demo agent, so the inbox has something to decide at once.

use std::path::Path;

use holdpoint::approval::envelope::{Fallbacks, Stated};
use holdpoint::approval::{Clock as _, Proposal, Submitted, SystemClock, policy_hash};

use crate::data::Holder;
use crate::{App, StartError};

/// The demo agent's name.
pub const AGENT: &str = "demo-agent";
/// The demo agent's tenant.
pub const TENANT: &str = "demo";
/// The user the demo agent acts for.
pub const USER: &str = "demo-user";

/// The sample calls played, in order, when the policy's `calls/` folder has them.
const SAMPLES: &[&str] = &[
    "kb-search.json",
    "ticket-create.json",
    "refund-900.json",
    "crm-bulk-update-2400.json",
    "refund-6000.json",
    "refund-700.json",
];

/// What `--demo` made.
#[derive(Debug, Default)]
pub struct Demo {
    /// The demo agent's token.
    pub agent_token: String,
    /// The demo approvers: for each group a played call waits for, in the order they
    /// first wait, its first member, the group and the member's token.
    pub approvers: Vec<DemoApprover>,
    /// Each call played: the file, the tool, and what happened.
    pub played: Vec<Played>,
}

/// A demo approver: who, for which group, and their token.
#[derive(Debug)]
pub struct DemoApprover {
    /// The approver.
    pub id: String,
    /// The group they decide for.
    pub group: String,
    /// Their token.
    pub token: String,
}

/// One sample call and its outcome.
#[derive(Debug)]
pub struct Played {
    /// The file's name.
    pub file: String,
    /// The tool it calls.
    pub tool: String,
    /// `allow`, `audit`, `deny`, or `approve`.
    pub effect: String,
    /// For `approve`: the request's id and the groups it waits for.
    pub waits: Option<(String, Vec<String>)>,
}

/// Creates the demo tokens and plays the sample calls found in `policy_dir/calls`.
pub fn play(app: &App, policy_dir: &Path) -> Result<Demo, StartError> {
    let now = SystemClock.now_ms();
    let agent = Holder::Agent {
        name: AGENT.into(),
        tenants: vec![TENANT.into()],
    };
    let mut demo = Demo {
        agent_token: app.data.create_token(agent, now)?,
        ..Demo::default()
    };
    let calls = if policy_dir.is_dir() {
        policy_dir.join("calls")
    } else {
        policy_dir
            .parent()
            .map(|p| p.join("calls"))
            .unwrap_or_default()
    };
    for file in SAMPLES {
        let path = calls.join(file);
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        demo.played.push(play_one(app, file, &text)?);
    }
    let mut groups: Vec<String> = Vec::new();
    for g in demo.played.iter().filter_map(|p| p.waits.as_ref()) {
        for group in &g.1 {
            if !groups.contains(group) {
                groups.push(group.clone());
            }
        }
    }
    for group in groups {
        let member = app
            .approvers
            .groups()
            .find(|(name, _)| *name == group)
            .and_then(|(_, mut members)| members.next().map(str::to_string));
        let Some(member) = member else { continue };
        if demo.approvers.iter().any(|a| a.id == member) {
            continue;
        }
        let token = app
            .data
            .create_token(Holder::Approver { id: member.clone() }, now)?;
        demo.approvers.push(DemoApprover {
            id: member,
            group,
            token,
        });
    }
    Ok(demo)
}

fn play_one(app: &App, file: &str, text: &str) -> Result<Played, StartError> {
    let stated = Stated {
        user: Some(USER.into()),
        tenant: Some(TENANT.into()),
        agent: Some(AGENT.into()),
        run_id: Some("demo".into()),
        tool_call_id: Some(file.trim_end_matches(".json").into()),
        reasoning: Some("a sample call played by `policy serve --demo`".into()),
        ..Stated::default()
    };
    let hash = policy_hash(&app.policy);
    let proposal = Proposal::from_json(text, &stated, &Fallbacks::default(), &hash)
        .map_err(|e| StartError::Demo(format!("{file}: {e}")))?;
    let tool = proposal.call.tool.clone();
    let played = |effect: &str, waits| Played {
        file: file.to_string(),
        tool: tool.clone(),
        effect: effect.to_string(),
        waits,
    };
    Ok(match app.guard.submit(proposal)? {
        Submitted::Permit(p) => played(p.effect().as_str(), None),
        Submitted::Denied(_) => played("deny", None),
        Submitted::Waiting(w) => played("approve", Some((w.id, w.groups))),
    })
}
