//! The population background traffic comes from: accounts, identities
//! (with their `userIdentity` JSON prepared once), their addresses and
//! habits, and the weighted tables records are drawn from.

use crate::rng::{Rng, Weighted};
use crate::tables::{
    self, ACTIONS, APP_ROLES, AWS_NETS, CLI_V1, CLI_V2_CURRENT, CLI_V2_LEGACY, EMAIL_DOMAINS,
    FIRST, HUMAN_NETS, HUMAN_ROLES, LAST, SDK_AGENTS, SERVICE_USERS, SERVICES, SSO_PERMISSION_SETS,
    TERRAFORM_AGENTS,
};

/// How an aws-cli agent is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CliForm {
    /// aws-cli v1 (no command).
    V1(u8),
    /// aws-cli v2 `prompt/off command/X`.
    Legacy(u8),
    /// aws-cli v2 `md/command#X`.
    Current(u8),
    /// `AWS-CLI/2… prompt/off command/X`.
    Upper,
    /// `[aws-cli/1.18.69 …]`.
    Bracketed,
}

/// An identity's habits.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Style {
    Console,
    Cli { form: CliForm, console_percent: u8 },
    Sdk(u8),
    Terraform(u8),
    Service(u8),
    Config,
    Anonymous,
}

/// Traffic classes; background records pick a class first, then an
/// identity of that class, then a call the class makes.
pub(crate) const PROFILES: usize = 7;
pub(crate) const PROFILE_BITS: [u8; PROFILES] = [
    tables::H,
    tables::C,
    tables::P,
    tables::T,
    tables::S,
    tables::G,
    tables::A,
];
/// Share of background records per class (console, cli, app, IaC,
/// service, Config, anonymous).
const PROFILE_WEIGHTS: [u64; PROFILES] = [16, 1, 40, 4, 32, 5, 2];

const CONSOLE: usize = 0;
const CLI: usize = 1;
const APP: usize = 2;
const IAC: usize = 3;
const SERVICE: usize = 4;
const CONFIG: usize = 5;
const ANON: usize = 6;

/// `userIdentity` JSON: `head` + creation date + `tail` when `dated`, else
/// just `head`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Ui {
    pub head: String,
    pub tail: String,
    pub dated: bool,
    pub mfa: Option<&'static str>,
}

impl Ui {
    fn plain(json: String) -> Ui {
        Ui {
            head: json,
            tail: String::new(),
            dated: false,
            mfa: None,
        }
    }

    /// `prefix` + `"sessionContext":{… "attributes":{"creationDate":"…","mfaAuthenticated":"mfa"}}` + `}`.
    fn session(prefix: &str, issuer: &str, extra: &str, mfa: &'static str) -> Ui {
        Ui {
            head: format!(
                "{prefix},\"sessionContext\":{{\"sessionIssuer\":{{{issuer}}},\"webIdFederationData\":{{}},\"attributes\":{{\"creationDate\":\""
            ),
            tail: format!("\",\"mfaAuthenticated\":\"{mfa}\"}}{extra}}}}}"),
            dated: true,
            mfa: Some(mfa),
        }
    }
}

/// One principal.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    /// `[programmatic, console]` renderings.
    pub ui: [Ui; 2],
    pub identity_type: Option<&'static str>,
    pub arn: Option<String>,
    pub account: String,
    pub user_name: Option<String>,
    pub ips: Vec<String>,
    pub region: &'static str,
    pub style: Style,
    pub profile: usize,
    /// Sessions are renewed hourly at this offset (seconds).
    pub session_offset: i64,
    /// Whether the Elastic rule's identity filters keep this principal.
    pub elastic_ok: bool,
}

impl Identity {
    fn new(
        ui: [Ui; 2],
        identity_type: Option<&'static str>,
        arn: Option<String>,
        account: &str,
    ) -> Identity {
        let elastic_ok = match (&identity_type, &arn) {
            (Some(t), Some(a)) => {
                *t != "AWSService"
                    && dissect_roles(a).is_some_and(|r| !r.starts_with("AWSServiceRoleForConfig"))
            }
            _ => false,
        };
        Identity {
            ui,
            identity_type,
            arn,
            account: account.to_owned(),
            user_name: None,
            ips: Vec::new(),
            region: "us-east-1",
            style: Style::Console,
            profile: CONSOLE,
            session_offset: 0,
            elastic_ok,
        }
    }
}

/// The `roles` piece of the Elastic rule's `%{}::%{owner}:%{type}/%{roles}`.
pub(crate) fn dissect_roles(arn: &str) -> Option<&str> {
    let rest = &arn[arn.find("::")? + 2..];
    let rest = &rest[rest.find(':')? + 1..];
    Some(&rest[rest.find('/')? + 1..])
}

pub(crate) fn upper_alnum(rng: &mut Rng, n: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    (0..n)
        .map(|_| CHARS[rng.index(CHARS.len())] as char)
        .collect()
}

pub(crate) fn hex(rng: &mut Rng, n: usize) -> String {
    const CHARS: &[u8] = b"0123456789abcdef";
    (0..n).map(|_| CHARS[rng.index(16)] as char).collect()
}

pub(crate) fn ip_in(rng: &mut Rng, nets: &[u8]) -> String {
    let a = rng.pick(nets);
    format!(
        "{a}.{}.{}.{}",
        rng.below(256),
        rng.below(256),
        1 + rng.below(254)
    )
}

/// A human's name: `(first, last)`.
fn person(rng: &mut Rng) -> (&'static str, &'static str) {
    (rng.pick(FIRST), rng.pick(LAST))
}

fn cli_form(rng: &mut Rng) -> CliForm {
    match rng.below(10) {
        0 | 1 => CliForm::V1(rng.index(CLI_V1.len()) as u8),
        2..=5 => CliForm::Legacy(rng.index(CLI_V2_LEGACY.len()) as u8),
        _ => CliForm::Current(rng.index(CLI_V2_CURRENT.len()) as u8),
    }
}

/// Builders of `userIdentity` objects.
pub(crate) mod ui {
    use super::*;

    pub(crate) fn iam_user(
        rng: &mut Rng,
        acct: &str,
        path_name: &str,
        mfa: &'static str,
    ) -> Identity {
        let name = path_name.rsplit('/').next().unwrap_or(path_name);
        let arn = format!("arn:aws:iam::{acct}:user/{path_name}");
        let pid = format!("AIDA{}", upper_alnum(rng, 17));
        let base = format!(
            "{{\"type\":\"IAMUser\",\"principalId\":\"{pid}\",\"arn\":\"{arn}\",\"accountId\":\"{acct}\""
        );
        let keyed = Ui::plain(format!(
            "{base},\"accessKeyId\":\"AKIA{}\",\"userName\":\"{name}\"}}",
            upper_alnum(rng, 16)
        ));
        let console = Ui::session(
            &format!(
                "{base},\"accessKeyId\":\"ASIA{}\",\"userName\":\"{name}\"",
                upper_alnum(rng, 16)
            ),
            "",
            "",
            mfa,
        );
        let mut id = Identity::new([keyed, console], Some("IAMUser"), Some(arn), acct);
        id.user_name = Some(name.to_owned());
        id
    }

    /// An assumed-role session; `role_path` is the issuer's path
    /// (`aws-reserved/sso.amazonaws.com/` for SSO roles).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn assumed(
        rng: &mut Rng,
        acct: &str,
        role: &str,
        role_path: &str,
        session: &str,
        mfa: &'static str,
        extra: &str,
        invoked_by: Option<&str>,
        typed: bool,
    ) -> Identity {
        let arn = format!("arn:aws:sts::{acct}:assumed-role/{role}/{session}");
        let role_id = format!("AROA{}", upper_alnum(rng, 17));
        let ty = if typed {
            "\"type\":\"AssumedRole\","
        } else {
            ""
        };
        let prefix = format!(
            "{{{ty}\"principalId\":\"{role_id}:{session}\",\"arn\":\"{arn}\",\"accountId\":\"{acct}\",\"accessKeyId\":\"ASIA{}\"",
            upper_alnum(rng, 16)
        );
        let prefix = match invoked_by {
            Some(svc) => format!("{prefix},\"invokedBy\":\"{svc}\""),
            None => prefix,
        };
        let issuer = format!(
            "\"type\":\"Role\",\"principalId\":\"{role_id}\",\"arn\":\"arn:aws:iam::{acct}:role/{role_path}{role}\",\"accountId\":\"{acct}\",\"userName\":\"{role}\""
        );
        let u = Ui::session(&prefix, &issuer, extra, mfa);
        Identity::new(
            [u.clone(), u],
            typed.then_some("AssumedRole"),
            Some(arn),
            acct,
        )
    }

    pub(crate) fn root(rng: &mut Rng, acct: &str) -> Identity {
        let arn = format!("arn:aws:iam::{acct}:root");
        let base = format!(
            "{{\"type\":\"Root\",\"principalId\":\"{acct}\",\"arn\":\"{arn}\",\"accountId\":\"{acct}\""
        );
        let keyed = Ui::plain(format!(
            "{base},\"accessKeyId\":\"AKIA{}\"}}",
            upper_alnum(rng, 16)
        ));
        let console = Ui::session(
            &format!("{base},\"accessKeyId\":\"ASIA{}\"", upper_alnum(rng, 16)),
            "",
            "",
            "true",
        );
        Identity::new([keyed, console], Some("Root"), Some(arn), acct)
    }

    pub(crate) fn federated(rng: &mut Rng, acct: &str, name: &str, issuer_user: &str) -> Identity {
        let arn = format!("arn:aws:sts::{acct}:federated-user/{name}");
        let prefix = format!(
            "{{\"type\":\"FederatedUser\",\"principalId\":\"{acct}:{name}\",\"arn\":\"{arn}\",\"accountId\":\"{acct}\",\"accessKeyId\":\"ASIA{}\"",
            upper_alnum(rng, 16)
        );
        let issuer = format!(
            "\"type\":\"IAMUser\",\"principalId\":\"AIDA{}\",\"arn\":\"arn:aws:iam::{acct}:user/{issuer_user}\",\"accountId\":\"{acct}\",\"userName\":\"{issuer_user}\"",
            upper_alnum(rng, 17)
        );
        let u = Ui::session(&prefix, &issuer, "", "false");
        Identity::new([u.clone(), u], Some("FederatedUser"), Some(arn), acct)
    }

    pub(crate) fn service(acct: &str, invoked_by: &str) -> Identity {
        let u = Ui::plain(format!(
            "{{\"type\":\"AWSService\",\"invokedBy\":\"{invoked_by}\"}}"
        ));
        Identity::new([u.clone(), u], Some("AWSService"), None, acct)
    }

    pub(crate) fn anonymous() -> Identity {
        let u = Ui::plain(
            "{\"type\":\"AWSAccount\",\"principalId\":\"Anonymous\",\"accountId\":\"anonymous\"}"
                .to_owned(),
        );
        Identity::new([u.clone(), u], Some("AWSAccount"), None, "")
    }

    /// The AWS Config service-linked role's session.
    pub(crate) fn config_role(rng: &mut Rng, acct: &str, session: &str, invoked: bool) -> Identity {
        assumed(
            rng,
            acct,
            "AWSServiceRoleForConfig",
            "aws-service-role/config.amazonaws.com/",
            session,
            "false",
            "",
            invoked.then_some("config.amazonaws.com"),
            true,
        )
    }
}

/// Everything background records are drawn from.
#[derive(Debug, Clone)]
pub(crate) struct Pool {
    pub accounts: Vec<String>,
    pub identities: Vec<Identity>,
    by_profile: [Vec<u32>; PROFILES],
    profile_pick: Weighted,
    action_pick: [Weighted; PROFILES],
    service_actions: Vec<Vec<u16>>,
    /// Addresses anonymous readers come from.
    pub anon_ips: Vec<String>,
}

impl Pool {
    /// A population sized for `rate_per_sec` (more identities at higher
    /// rates, so each one stays about as busy as at the default rate).
    pub(crate) fn new(rng: &mut Rng, rate_per_sec: f64) -> Pool {
        let n_accounts = 20 + rng.index(31);
        let mut accounts = Vec::with_capacity(n_accounts);
        while accounts.len() < n_accounts {
            let a = format!("{:012}", rng.range(100_000_000_000, 999_999_999_999));
            if !accounts.contains(&a) {
                accounts.push(a);
            }
        }
        let target = (rate_per_sec * 2.0).clamp(240.0, 20_000.0) as usize;
        let mut pool = Pool {
            accounts,
            identities: Vec::with_capacity(target + 128),
            by_profile: Default::default(),
            profile_pick: Weighted::default(),
            action_pick: Default::default(),
            service_actions: Vec::new(),
            anon_ips: (0..200).map(|_| ip_in(rng, HUMAN_NETS)).collect(),
        };
        // Fixed members: the Config role in most accounts, AWS services,
        // one anonymous reader.
        for i in 0..pool.accounts.len() {
            let acct = pool.accounts[i].clone();
            if rng.percent(70) {
                let mut id = ui::config_role(rng, &acct, "AWSConfig-Describe", true);
                id.style = Style::Config;
                pool.add(rng, id, CONFIG);
            }
            for (s, (invoked_by, _)) in SERVICES.iter().enumerate() {
                if rng.percent(40) {
                    let mut id = ui::service(&acct, invoked_by);
                    id.style = Style::Service(s as u8);
                    pool.add(rng, id, SERVICE);
                }
            }
        }
        let mut anon = ui::anonymous();
        anon.style = Style::Anonymous;
        pool.add(rng, anon, ANON);
        let kinds = Weighted::new([34, 16, 8, 14, 2, 3, 3]);
        let mut serial = 0u32;
        while pool.identities.len() < target {
            serial += 1;
            let acct = pool.accounts[rng.index(pool.accounts.len())].clone();
            let (id, profile) = match kinds.sample(rng).unwrap_or(0) {
                0 => pool.iam_user(rng, &acct, serial),
                1 | 2 => {
                    let sso = rng.percent(35);
                    let (first, last) = person(rng);
                    let session = format!("{first}.{last}@{}", rng.pick(EMAIL_DOMAINS));
                    let mfa = if rng.percent(60) { "true" } else { "false" };
                    let id = if sso {
                        let role = format!(
                            "AWSReservedSSO_{}_{}",
                            rng.pick(SSO_PERMISSION_SETS),
                            hex(rng, 16)
                        );
                        let path = if rng.percent(80) {
                            "aws-reserved/sso.amazonaws.com/".to_owned()
                        } else {
                            format!(
                                "aws-reserved/sso.amazonaws.com/{}/",
                                rng.pick(tables::REGIONS)
                            )
                        };
                        ui::assumed(rng, &acct, &role, &path, &session, mfa, "", None, true)
                    } else {
                        let role = rng.pick(HUMAN_ROLES);
                        ui::assumed(rng, &acct, role, "", &session, mfa, "", None, true)
                    };
                    let profile = match rng.below(20) {
                        0..=10 => CONSOLE,
                        11..=17 => CLI,
                        _ => IAC,
                    };
                    (id, profile)
                }
                3 => pool.app_role(rng, &acct, serial),
                4 => (
                    ui::root(rng, &acct),
                    if rng.percent(80) { CONSOLE } else { CLI },
                ),
                5 => {
                    let (first, last) = person(rng);
                    let name = format!("{first}-{last}");
                    let issuer = rng.pick(&["sso-broker", "okta-federation", "vault"]);
                    let id = ui::federated(rng, &acct, &name, issuer);
                    (id, if rng.percent(50) { CONSOLE } else { APP })
                }
                _ => {
                    // Some exports carry no userIdentity.type.
                    let (first, last) = person(rng);
                    let session = format!("{first}.{last}@{}", rng.pick(EMAIL_DOMAINS));
                    let role = rng.pick(HUMAN_ROLES);
                    let id = ui::assumed(rng, &acct, role, "", &session, "false", "", None, false);
                    let profile = match rng.below(10) {
                        0..=3 => CLI,
                        4..=7 => APP,
                        _ => CONSOLE,
                    };
                    (id, profile)
                }
            };
            let style = match profile {
                CONSOLE => Style::Console,
                CLI => Style::Cli {
                    form: cli_form(rng),
                    console_percent: 25,
                },
                APP => Style::Sdk(rng.index(SDK_AGENTS.len()) as u8),
                _ => Style::Terraform(rng.index(TERRAFORM_AGENTS.len()) as u8),
            };
            let mut id = id;
            id.style = style;
            pool.add(rng, id, profile);
        }
        let weights = PROFILE_WEIGHTS
            .iter()
            .zip(&pool.by_profile)
            .map(|(w, ids)| if ids.is_empty() { 0 } else { *w });
        pool.profile_pick = Weighted::new(weights);
        for (p, bit) in PROFILE_BITS.iter().enumerate() {
            pool.action_pick[p] = Weighted::new(ACTIONS.iter().map(|a| {
                if a.who & bit != 0 {
                    u64::from(a.weight)
                } else {
                    0
                }
            }));
        }
        pool.service_actions = SERVICES
            .iter()
            .map(|(_, calls)| {
                calls
                    .iter()
                    .filter_map(|(src, name)| find(src, name))
                    .collect()
            })
            .collect();
        pool
    }

    fn iam_user(&self, rng: &mut Rng, acct: &str, serial: u32) -> (Identity, usize) {
        if rng.percent(55) {
            let (first, last) = person(rng);
            let name = if rng.percent(50) {
                format!("{first}.{last}")
            } else {
                format!("{}{last}", &first[..1])
            };
            let mfa = if rng.percent(70) { "true" } else { "false" };
            let id = ui::iam_user(rng, acct, &name, mfa);
            let profile = match rng.below(20) {
                0..=7 => CLI,
                8..=14 => CONSOLE,
                15..=17 => APP,
                _ => IAC,
            };
            (id, profile)
        } else {
            let base = rng.pick(SERVICE_USERS);
            let name = if rng.percent(50) {
                base.to_owned()
            } else {
                format!("{base}-{}", serial % 97)
            };
            let id = ui::iam_user(rng, acct, &name, "false");
            let profile = match rng.below(20) {
                0..=11 => APP,
                12..=16 => IAC,
                _ => CLI,
            };
            (id, profile)
        }
    }

    fn app_role(&self, rng: &mut Rng, acct: &str, serial: u32) -> (Identity, usize) {
        let role = rng.pick(APP_ROLES);
        let (session, extra, profile) = match rng.below(8) {
            0 | 1 => (
                format!("i-0{}", hex(rng, 16)),
                ",\"ec2RoleDelivery\":\"2.0\"",
                APP,
            ),
            2..=4 => (rng.pick(tables::FUNCTIONS).to_owned(), "", APP),
            5 => (
                format!(
                    "botocore-session-{}",
                    1_767_000_000 + u64::from(serial) * 7919
                ),
                "",
                APP,
            ),
            6 => (hex(rng, 32), "", APP),
            _ => ("GitHubActions".to_owned(), "", IAC),
        };
        let id = ui::assumed(rng, acct, role, "", &session, "false", extra, None, true);
        (id, profile)
    }

    fn add(&mut self, rng: &mut Rng, mut id: Identity, profile: usize) {
        id.profile = profile;
        id.session_offset = rng.below(3600) as i64;
        id.region = if rng.percent(60) {
            "us-east-1"
        } else {
            rng.pick(tables::REGIONS)
        };
        let (nets, n) = match profile {
            CONSOLE | CLI => (HUMAN_NETS, 1 + rng.below(2)),
            _ => (AWS_NETS, 1 + rng.below(4)),
        };
        id.ips = (0..n).map(|_| ip_in(rng, nets)).collect();
        if let Style::Service(s) = id.style {
            id.ips = vec![SERVICES[usize::from(s)].0.to_owned()];
        } else if let Style::Config = id.style {
            id.ips = vec!["config.amazonaws.com".to_owned()];
        }
        self.by_profile[profile].push(self.identities.len() as u32);
        self.identities.push(id);
    }

    /// Adds an identity no background record uses (a burst's).
    pub(crate) fn add_private(&mut self, id: Identity) -> usize {
        self.identities.push(id);
        self.identities.len() - 1
    }

    /// A background identity index and whether this record is a console
    /// call, then an action index.
    pub(crate) fn draw(&self, rng: &mut Rng) -> Option<(usize, bool, usize)> {
        let profile = self.profile_pick.sample(rng)?;
        let ids = &self.by_profile[profile];
        let idx = *ids.get(rng.index(ids.len()))? as usize;
        let id = self.identities.get(idx)?;
        let (console, action) = match id.style {
            Style::Service(s) => {
                let calls = self.service_actions.get(usize::from(s))?;
                (false, usize::from(*calls.get(rng.index(calls.len()))?))
            }
            Style::Cli {
                console_percent, ..
            } if rng.percent(u64::from(console_percent)) => {
                (true, self.action_pick[CONSOLE].sample(rng)?)
            }
            Style::Console => (true, self.action_pick[CONSOLE].sample(rng)?),
            _ => (false, self.action_pick[profile].sample(rng)?),
        };
        Some((idx, console, action))
    }
}

impl Pool {
    /// An aws-cli principal making one of the calls aws-cli users make,
    /// from the command line (never the console).
    pub(crate) fn draw_cli(&self, rng: &mut Rng) -> Option<(usize, bool, usize)> {
        let ids = &self.by_profile[CLI];
        let idx = *ids.get(rng.index(ids.len()))? as usize;
        Some((idx, false, self.action_pick[CLI].sample(rng)?))
    }
}

/// The index of the action `(src, name)`.
pub(crate) fn find(src: &str, name: &str) -> Option<u16> {
    ACTIONS
        .iter()
        .position(|a| a.src == src && a.name == name)
        .map(|i| i as u16)
}

/// The index of the action the aws-cli command `cli` makes.
pub(crate) fn find_cli(cli: &str) -> Option<u16> {
    ACTIONS.iter().position(|a| a.cli == cli).map(|i| i as u16)
}
