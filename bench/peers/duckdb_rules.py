#!/usr/bin/env python3
"""Both rules as SQL in DuckDB, over an NDJSON file of raw CloudTrail records.

The batch peer of `recon detect`: what a SIEM-style engine does when it
re-reads the export and runs the two queries. It follows
`docs/rules.md` (default profile) as far as SQL allows:

Sentinel: agent starts with `aws-cli` (any case); the command after the first
`off command/` (up to the next), else the token after `md/command#`; KQL
`has_any` as a whole-term match ignoring case; attribution from the ARN (the
first resource ARN when it is empty), `Anonymous`, the user name, the UPN
suffix; 1-minute epoch buckets; `CommadCount >= 8`.

Elastic: the nine providers; identity type not `AWSService` (null drops);
agent starts with `aws-cli/`; not `DescribeCapacityReservations`;
`Describe`/`Get`/`List`/`Generate`; the dissect pattern fits and the roles
part does not start with `AWSServiceRoleForConfig`; 10-second buckets;
more than 5 distinct event names.

The file is read once into a table of the fields both queries use; both
queries then run on that table. Prints the number of rows per rule, then the
rows (`--rows`).

With `--auto`, the file is read the way a first query is usually written,
with `read_json_auto` inferring every column, and the same two queries run
on what it infers: slower, and closer to what the issue measured.

Usage: duckdb_rules.py FILE [--rows] [--threads N] [--auto]
"""

import sys

import duckdb

SENTINEL_COMMANDS = [
    "iam.list-users", "iam.list-groups", "ec2.describe-vpcs", "ec2.describe-subnets",
    "route53.list-hosted-zones", "kms.list-keys", "kms.list-aliases", "ecs.list-clusters",
    "ecs.list-services", "iam.list-roles", "iam.get-user", "iam.list-access-keys",
    "ec2.describe-security-groups", "ec2.describe-network-acls",
    "ec2.describe-network-interfaces", "ec2.describe-route-tables",
    "ec2.describe-internet-gateways", "ec2.describe-vpc-peering-connections",
    "ec2.describe-transit-gateway-vpc-attachment", "ec2.describe-vpc",
]

PROVIDERS = [
    "iam.amazonaws.com", "ec2.amazonaws.com", "s3.amazonaws.com", "rds.amazonaws.com",
    "lambda.amazonaws.com", "dynamodb.amazonaws.com", "kms.amazonaws.com",
    "cloudfront.amazonaws.com", "elasticloadbalancing.amazonaws.com",
]


def main() -> None:
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    path = args[0]
    show_rows = "--rows" in args
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if "--threads" in args:
        con.execute(f"SET threads = {int(args[args.index('--threads') + 1])}")
    # `has`: the needle with no letter or digit on either side.
    needles = "|".join(c.replace(".", r"\.") for c in SENTINEL_COMMANDS)
    has_any = f"(^|[^a-z0-9])({needles})($|[^a-z0-9])"
    providers = ", ".join(f"'{p}'" for p in PROVIDERS)
    load(con, path, auto="--auto" in args)
    run_rules(con, has_any, providers, show_rows)


# What each way of reading gives for the fields that differ: `read_json_auto`
# infers `userIdentity` and `resources` in shapes of its own, so they are
# read through JSON; declared, they are typed.
AUTO = (
    "json_extract_string(to_json(userIdentity), '$.sessionContext.attributes.mfaAuthenticated')",
    "json_extract_string(to_json(resources), '$[0].ARN')",
    "read_json_auto(?, maximum_object_size = 1048576)",
)
DECLARED = (
    "userIdentity.sessionContext.attributes.mfaAuthenticated",
    "json_extract_string(resources, '$[0].ARN')",
    """read_ndjson(?, columns = {
        eventTime: 'VARCHAR', userAgent: 'VARCHAR', eventName: 'VARCHAR',
        eventSource: 'VARCHAR', recipientAccountId: 'VARCHAR', sourceIPAddress: 'VARCHAR',
        resources: 'JSON',
        userIdentity: 'STRUCT(type VARCHAR, arn VARCHAR, userName VARCHAR,
            principalId VARCHAR,
            sessionContext STRUCT(attributes STRUCT(mfaAuthenticated VARCHAR)))'
    }, maximum_object_size = 1048576)""",
)


def load(con, path, auto):
    """Reads the fields the rules use into the table `ev`: declared (only
    those fields, typed), or with every column inferred (`auto`)."""
    mfa, resource_arn, source = AUTO if auto else DECLARED
    con.execute(
        f"""
        CREATE TEMP TABLE ev AS
        SELECT CAST(eventTime AS TIMESTAMPTZ) AS t,
               userAgent AS ua, eventName AS name, eventSource AS src,
               userIdentity.type AS itype, userIdentity.arn AS arn,
               userIdentity.userName AS uname, userIdentity.principalId AS principal,
               {mfa} AS mfa,
               recipientAccountId AS account, sourceIPAddress AS ip,
               {resource_arn} AS resource_arn
        FROM {source}
        """,
        [path],
    )


def run_rules(con, has_any, providers, show_rows):
    """Both queries over the table `ev`."""
    sentinel = con.execute(
        f"""
        WITH cli AS (
            SELECT t, name, account, uname, ip, mfa, principal,
                   COALESCE(NULLIF(arn, ''), resource_arn, '') AS uarn,
                   CASE WHEN strpos(ua, 'off command/') > 0
                            THEN split_part(ua, 'off command/', 2)
                        WHEN strpos(ua, 'md/command#') > 0
                            THEN split_part(split_part(ua, 'md/command#', 2), ' ', 1)
                        ELSE '' END AS command
            FROM ev WHERE lower(ua) LIKE 'aws-cli%'
        ), hits AS (
            SELECT *,
                   CASE WHEN principal = 'Anonymous' THEN 'Anonymous'
                        WHEN COALESCE(uname, '') = '' THEN regexp_extract(uarn, '[^/]*$')
                        ELSE uname END AS who
            FROM cli WHERE regexp_matches(lower(command), '{has_any}')
        )
        SELECT strftime(date_trunc('minute', t), '%Y-%m-%dT%H:%M:%SZ') AS "TimeGenerated",
               COALESCE(account, '') AS "RecipientAccountId",
               split_part(who, '@', 1) AS "AccountName",
               CASE WHEN strpos(who, '@') > 0 THEN split_part(who, '@', 2) ELSE '' END
                   AS "AccountUPNSuffix",
               COALESCE(uname, '') AS "UserIdentityUserName",
               COALESCE(ip, '') AS "SourceIpAddress",
               COALESCE(mfa, '') AS "SessionMfaAuthenticated",
               count(DISTINCT command) AS "CommadCount",
               count(DISTINCT name) AS "EventCount"
        FROM hits
        GROUP BY ALL
        HAVING count(DISTINCT command) >= 8
        ORDER BY 1, 2, 3
        """
    ).fetchall()
    elastic = con.execute(
        f"""
        SELECT strftime(to_timestamp(floor(epoch(t) / 10) * 10), '%Y-%m-%dT%H:%M:%SZ')
                   AS "Esql.time_window_date_trunc",
               arn AS "aws.cloudtrail.user_identity.arn",
               count(DISTINCT name) AS "Esql.event_action_count_distinct"
        FROM ev
        WHERE src IN ({providers})
          AND itype <> 'AWSService'
          AND starts_with(ua, 'aws-cli/')
          AND name <> 'DescribeCapacityReservations'
          AND (starts_with(name, 'Describe') OR starts_with(name, 'Get')
               OR starts_with(name, 'List') OR starts_with(name, 'Generate'))
          AND regexp_matches(arn, '::[^:]*:[^/]*/')
          AND NOT starts_with(regexp_extract(arn, '::[^:]*:[^/]*/(.*)$', 1),
                              'AWSServiceRoleForConfig')
        GROUP BY ALL
        HAVING count(DISTINCT name) > 5
        ORDER BY 1, 2
        """
    ).fetchall()
    print(f"sentinel-aws-cli-recon {len(sentinel)}")
    print(f"elastic-aws-discovery-burst {len(elastic)}")
    if show_rows:
        for row in sentinel + elastic:
            print(row)


if __name__ == "__main__":
    main()
