//! Real CloudTrail samples through the real component.

use recon::runtime::Profile;

use crate::util::{
    assert_accounted, burst_sample, read_records, row, run, sample_files, sentinel, sentinel_ai,
};

/// The eleven aws-cli commands of the minute 2026-02-08T16:31Z in the
/// TrailDiscover burst sample.
pub const AI_COMMANDS: [&str; 11] = [
    "bedrock-agent.list-agents",
    "bedrock-agent.list-knowledge-bases",
    "bedrock-agent.get-knowledge-base",
    "bedrock.list-custom-models",
    "bedrock.list-inference-profiles",
    "bedrock.list-model-invocation-jobs",
    "sagemaker.list-models",
    "sagemaker.list-endpoints",
    "sagemaker.list-training-jobs",
    "opensearchserverless.list-collections",
    "opensearchserverless.list-access-policies",
];

#[test]
fn traildiscover_ai_burst_is_missed_by_the_built_in_list() {
    let events = read_records(&burst_sample());
    assert_eq!(events.len(), 29);
    for profile in [Profile::Default, Profile::Seed] {
        let (alerts, stats) = run(&sentinel(profile), &events);
        assert!(alerts.is_empty(), "{profile:?}: {alerts:?}");
        assert_accounted(&stats, events.len());
    }
}

#[test]
fn traildiscover_ai_burst_alerts_once_with_the_ai_command_list() {
    let events = read_records(&burst_sample());
    let mut config = sentinel_ai(Profile::Default);
    let (alerts, stats) = run(&config, &events);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let a = &alerts[0];
    let r = row(a);
    assert_eq!(r["TimeGenerated"], "2026-02-08T16:31:00Z");
    assert_eq!(r["AccountName"], "AdanAlvarez");
    assert_eq!(r["CommadCount"], 11);
    assert_eq!(r["EventCount"], 11);
    assert_eq!(r["RecipientAccountId"], "111111111111");
    assert_eq!(r["SessionMfaAuthenticated"], "false");
    assert_eq!(r["AccountUPNSuffix"], "");
    assert_eq!(r["UserIdentityUserName"], "");
    let commands: Vec<&str> = r["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let mut sorted = commands.clone();
    sorted.sort();
    let mut want = AI_COMMANDS.to_vec();
    want.sort();
    assert_eq!(sorted, want);
    assert_eq!(
        a.title,
        "Suspicious AWS CLI reconnaissance by AdanAlvarez - 11 commands"
    );
    assert_eq!(a.rule, "sentinel-aws-cli-recon");
    assert_eq!(a.rule_id, "8c2dc344-9352-4ca1-8863-b1b7a5e09e59");
    assert_eq!(stats.accepted, 11);
    assert_accounted(&stats, events.len());

    // The seed's letter reads only the legacy agent form: no command, no alert.
    config.profile = Profile::Seed;
    let (alerts, _) = run(&config, &events);
    assert!(alerts.is_empty(), "{alerts:?}");
}

#[test]
fn every_sample_loads_and_gives_no_sentinel_alert_with_the_built_in_list() {
    let files = sample_files();
    assert!(
        files.len() > 600,
        "expected the whole corpus, found {}",
        files.len()
    );
    let mut total = 0;
    for file in files {
        if file == burst_sample() {
            continue;
        }
        // Some TrailDiscover examples are empty arrays: they must load too.
        let events = read_records(&file);
        total += events.len();
        for profile in [Profile::Default, Profile::Seed] {
            let (alerts, stats) = run(&sentinel(profile), &events);
            assert!(
                alerts.is_empty(),
                "{} ({profile:?}) alerted: {alerts:?}",
                file.display()
            );
            assert_accounted(&stats, events.len());
        }
        let elastic = crate::util::elastic_rule(Profile::Default);
        let (_, stats) = run(&elastic, &events);
        assert_accounted(&stats, events.len());
    }
    assert!(total > 4000, "{total}");
}
