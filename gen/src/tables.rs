//! Static data: the API calls background traffic is made of, user agents,
//! regions and names. Everything is plain ASCII needing no JSON escaping
//! (checked by a test), so it is copied into records verbatim.
//!
//! Request/response templates use `%` placeholders expanded per record
//! (see `record::expand`): `%A` recipient account, `%R` region, `%I` eight
//! random hex digits, `%S` a random UUID, `%N` a number below 100 000,
//! `%X` sixteen random upper-case letters and digits, `%Z` a base64-looking
//! token, `%Y` the event time plus one hour, `%D` the event date as
//! `YYYY/MM/DD`, and names fixed for the whole record: `%B` bucket, `%K`
//! object key, `%U` IAM user, `%Q` role, `%F` function, `%T` table, `%C`
//! cluster, `%E` e-mail.

/// Who makes a call (profile bits of [`Action::who`]).
pub(crate) const H: u8 = 1; // people in the console
pub(crate) const C: u8 = 2; // people with the aws-cli
pub(crate) const P: u8 = 4; // applications with an SDK
pub(crate) const T: u8 = 8; // infrastructure as code
pub(crate) const S: u8 = 16; // AWS services (type AWSService)
pub(crate) const G: u8 = 32; // the AWS Config service-linked role
pub(crate) const A: u8 = 64; // anonymous S3 readers

/// Call flags.
pub(crate) const RO: u8 = 1; // readOnly
pub(crate) const DATA: u8 = 2; // data event (eventCategory Data)
pub(crate) const GLOBAL: u8 = 4; // global service, logged in us-east-1
pub(crate) const SIGNIN: u8 = 8; // eventType AwsConsoleSignIn

/// One kind of API call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Action {
    pub src: &'static str,
    pub name: &'static str,
    /// The aws-cli command that makes this call (`service.op`).
    pub cli: &'static str,
    pub flags: u8,
    pub who: u8,
    pub weight: u16,
    pub req: &'static str,
    pub resp: &'static str,
    /// `resources` array template, or empty.
    pub res: &'static str,
    /// `additionalEventData` template, or empty.
    pub extra: &'static str,
    /// TLS host header template, or empty for the service default.
    pub host: &'static str,
}

impl Action {
    pub(crate) fn read_only(&self) -> bool {
        self.flags & RO != 0
    }
    pub(crate) fn data(&self) -> bool {
        self.flags & DATA != 0
    }
    pub(crate) fn global(&self) -> bool {
        self.flags & GLOBAL != 0
    }
    pub(crate) fn signin(&self) -> bool {
        self.flags & SIGNIN != 0
    }
    /// `ec2` for `ec2.amazonaws.com`.
    pub(crate) fn service(&self) -> &'static str {
        self.src.split('.').next().unwrap_or(self.src)
    }
}

const D: Action = Action {
    src: "",
    name: "",
    cli: "",
    flags: RO,
    who: 0,
    weight: 1,
    req: "null",
    resp: "null",
    res: "",
    extra: "",
    host: "",
};

const EC2: &str = "ec2.amazonaws.com";
const IAM: &str = "iam.amazonaws.com";
const STS: &str = "sts.amazonaws.com";
const S3: &str = "s3.amazonaws.com";
const KMS: &str = "kms.amazonaws.com";
const LAMBDA: &str = "lambda.amazonaws.com";
const RDS: &str = "rds.amazonaws.com";
const DDB: &str = "dynamodb.amazonaws.com";
const CF: &str = "cloudfront.amazonaws.com";
const ELB: &str = "elasticloadbalancing.amazonaws.com";
const R53: &str = "route53.amazonaws.com";
const ECS: &str = "ecs.amazonaws.com";
const BEDROCK: &str = "bedrock.amazonaws.com";
const SM: &str = "sagemaker.amazonaws.com";
const LOGS: &str = "logs.amazonaws.com";
const CT: &str = "cloudtrail.amazonaws.com";
const CONFIG: &str = "config.amazonaws.com";
const SIGNIN_SRC: &str = "signin.amazonaws.com";

const HC: u8 = H | C;
const ALLREAD: u8 = H | C | P | T | G;

const KMS_KEY_RES: &str =
    r#"[{"accountId":"%A","type":"AWS::KMS::Key","ARN":"arn:aws:kms:%R:%A:key/%S"}]"#;
const S3_OBJ_RES: &str = r#"[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::%B/%K"},{"accountId":"%A","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::%B"}]"#;
const S3_EXTRA: &str = r#"{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":0,"AuthenticationMethod":"AuthHeader","bytesTransferredOut":%N}"#;
const S3_MGMT_EXTRA: &str = r#"{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","AuthenticationMethod":"AuthHeader"}"#;
const S3_PUT_EXTRA: &str = r#"{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":%N,"SSEApplied":"SSE_KMS","AuthenticationMethod":"AuthHeader","bytesTransferredOut":0}"#;
const DDB_RES: &str =
    r#"[{"accountId":"%A","type":"AWS::DynamoDB::Table","ARN":"arn:aws:dynamodb:%R:%A:table/%T"}]"#;
const LAMBDA_RES: &str = r#"[{"accountId":"%A","type":"AWS::Lambda::Function","ARN":"arn:aws:lambda:%R:%A:function:%F"}]"#;
const ROLE_RES: &str =
    r#"[{"accountId":"%A","type":"AWS::IAM::Role","ARN":"arn:aws:iam::%A:role/%Q"}]"#;

/// Every call background traffic and bursts are made of.
pub(crate) static ACTIONS: &[Action] = &[
    // ---- EC2
    Action {
        src: EC2,
        name: "DescribeInstances",
        cli: "ec2.describe-instances",
        who: ALLREAD,
        weight: 60,
        req: r#"{"instancesSet":{"items":[{"instanceId":"i-0%I%I"}]},"filterSet":{}}"#,
        ..D
    },
    Action {
        src: EC2,
        name: "DescribeInstanceStatus",
        cli: "ec2.describe-instance-status",
        who: P | G,
        weight: 30,
        req: r#"{"instancesSet":{"items":[{"instanceId":"i-0%I%I"}]},"filterSet":{},"includeAllInstances":false}"#,
        ..D
    },
    Action {
        src: EC2,
        name: "DescribeSecurityGroups",
        cli: "ec2.describe-security-groups",
        who: HC | P | T | G,
        weight: 25,
        req: r#"{"securityGroupSet":{},"securityGroupIdSet":{"items":[{"groupId":"sg-0%I%I"}]},"filterSet":{}}"#,
        ..D
    },
    Action {
        src: EC2,
        name: "DescribeVpcs",
        cli: "ec2.describe-vpcs",
        who: HC | P | T | G,
        weight: 14,
        req: r#"{"vpcSet":{"items":[{"vpcId":"vpc-0%I%I"}]},"filterSet":{}}"#,
        ..D
    },
    Action {
        src: EC2,
        name: "DescribeSubnets",
        cli: "ec2.describe-subnets",
        who: HC | P | T | G,
        weight: 14,
        req: r#"{"subnetSet":{},"filterSet":{}}"#,
        ..D
    },
    Action {
        src: EC2,
        name: "DescribeNetworkInterfaces",
        cli: "ec2.describe-network-interfaces",
        who: H | P | G,
        weight: 20,
        req: r#"{"networkInterfaceIdSet":{},"filterSet":{}}"#,
        ..D
    },
    Action {
        src: EC2,
        name: "DescribeRouteTables",
        cli: "ec2.describe-route-tables",
        who: H | T | G,
        weight: 6,
        req: r#"{"routeTableIdSet":{},"filterSet":{}}"#,
        ..D
    },
    Action {
        src: EC2,
        name: "DescribeNetworkAcls",
        cli: "ec2.describe-network-acls",
        who: H | T | G,
        weight: 4,
        req: r#"{"networkAclIdSet":{},"filterSet":{}}"#,
        ..D
    },
    Action {
        src: EC2,
        name: "DescribeInternetGateways",
        cli: "ec2.describe-internet-gateways",
        who: H | T | G,
        weight: 4,
        req: r#"{"internetGatewayIdSet":{},"filterSet":{}}"#,
        ..D
    },
    Action {
        src: EC2,
        name: "DescribeVpcPeeringConnections",
        cli: "ec2.describe-vpc-peering-connections",
        who: H | T | G,
        weight: 2,
        req: r#"{"vpcPeeringConnectionIdSet":{},"filterSet":{}}"#,
        ..D
    },
    Action {
        src: EC2,
        name: "DescribeVpcEndpoints",
        cli: "ec2.describe-vpc-endpoints",
        who: H | T | G,
        weight: 3,
        req: r#"{"vpcEndpointId":[],"filterSet":{}}"#,
        ..D
    },
    Action {
        src: EC2,
        name: "DescribeTransitGatewayVpcAttachments",
        cli: "ec2.describe-transit-gateway-vpc-attachments",
        who: HC | T | G,
        weight: 2,
        req: r#"{"DescribeTransitGatewayVpcAttachmentsRequest":{"TransitGatewayAttachmentIds":{"content":"tgw-attach-0%I%I","tag":1}}}"#,
        ..D
    },
    Action {
        src: EC2,
        name: "DescribeVolumes",
        cli: "ec2.describe-volumes",
        who: ALLREAD,
        weight: 12,
        req: r#"{"volumeSet":{},"filterSet":{}}"#,
        ..D
    },
    Action {
        src: EC2,
        name: "DescribeSnapshots",
        cli: "ec2.describe-snapshots",
        who: H | C | P | G,
        weight: 6,
        req: r#"{"snapshotSet":{},"ownersSet":{"items":[{"owner":"self"}]},"sharedUsersSet":{},"filterSet":{}}"#,
        ..D
    },
    Action {
        src: EC2,
        name: "DescribeImages",
        cli: "ec2.describe-images",
        who: HC | P | T,
        weight: 8,
        req: r#"{"executableBySet":{},"imagesSet":{},"ownersSet":{"items":[{"owner":"amazon"}]},"filterSet":{"items":[{"name":"name","valueSet":{"items":[{"value":"al2023-ami-2023.*-x86_64"}]}}]}}"#,
        ..D
    },
    Action {
        src: EC2,
        name: "DescribeKeyPairs",
        cli: "ec2.describe-key-pairs",
        who: HC | T,
        weight: 2,
        req: r#"{"keySet":{},"filterSet":{},"includePublicKey":false}"#,
        ..D
    },
    Action {
        src: EC2,
        name: "DescribeRegions",
        cli: "ec2.describe-regions",
        who: HC | P | T,
        weight: 4,
        req: r#"{"regionSet":{},"filterSet":{},"allRegions":false}"#,
        ..D
    },
    Action {
        src: EC2,
        name: "DescribeAvailabilityZones",
        cli: "ec2.describe-availability-zones",
        who: H | P | T,
        weight: 4,
        req: r#"{"availabilityZoneSet":{},"availabilityZoneIdSet":{},"allAvailabilityZones":false}"#,
        ..D
    },
    Action {
        src: EC2,
        name: "DescribeCapacityReservations",
        cli: "ec2.describe-capacity-reservations",
        who: HC | P,
        weight: 3,
        req: r#"{"DescribeCapacityReservationsRequest":{"MaxResults":1000}}"#,
        ..D
    },
    Action {
        src: EC2,
        name: "RunInstances",
        cli: "ec2.run-instances",
        flags: 0,
        who: C | T | P,
        weight: 2,
        req: r#"{"instancesSet":{"items":[{"imageId":"ami-0%I%I","minCount":1,"maxCount":1}]},"instanceType":"t3.medium","blockDeviceMapping":{},"monitoring":{"enabled":false},"disableApiTermination":false,"disableApiStop":false,"clientToken":"%S"}"#,
        resp: r#"{"requestId":"%S","reservationId":"r-0%I%I","ownerId":"%A","groupSet":{},"instancesSet":{"items":[{"instanceId":"i-0%I%I","imageId":"ami-0%I%I","instanceState":{"code":0,"name":"pending"},"instanceType":"t3.medium"}]}}"#,
        ..D
    },
    Action {
        src: EC2,
        name: "CreateTags",
        cli: "ec2.create-tags",
        flags: 0,
        who: C | T | P,
        weight: 4,
        req: r#"{"resourcesSet":{"items":[{"resourceId":"i-0%I%I"}]},"tagSet":{"items":[{"key":"Name","value":"web-%N"},{"key":"team","value":"platform"}]}}"#,
        resp: r#"{"requestId":"%S","_return":true}"#,
        ..D
    },
    Action {
        src: EC2,
        name: "StopInstances",
        cli: "ec2.stop-instances",
        flags: 0,
        who: HC | P,
        weight: 1,
        req: r#"{"instancesSet":{"items":[{"instanceId":"i-0%I%I"}]},"force":false}"#,
        resp: r#"{"requestId":"%S","instancesSet":{"items":[{"instanceId":"i-0%I%I","currentState":{"code":64,"name":"stopping"},"previousState":{"code":16,"name":"running"}}]}}"#,
        ..D
    },
    Action {
        src: EC2,
        name: "AuthorizeSecurityGroupIngress",
        cli: "ec2.authorize-security-group-ingress",
        flags: 0,
        who: HC | T,
        weight: 1,
        req: r#"{"groupId":"sg-0%I%I","ipPermissions":{"items":[{"ipProtocol":"tcp","fromPort":443,"toPort":443,"groups":{},"ipRanges":{"items":[{"cidrIp":"0.0.0.0/0"}]},"ipv6Ranges":{},"prefixListIds":{}}]}}"#,
        resp: r#"{"requestId":"%S","_return":true}"#,
        ..D
    },
    // ---- IAM (global)
    Action {
        src: IAM,
        name: "ListUsers",
        cli: "iam.list-users",
        flags: RO | GLOBAL,
        who: HC | G | T,
        weight: 4,
        ..D
    },
    Action {
        src: IAM,
        name: "ListRoles",
        cli: "iam.list-roles",
        flags: RO | GLOBAL,
        who: HC | G | T,
        weight: 4,
        ..D
    },
    Action {
        src: IAM,
        name: "ListGroups",
        cli: "iam.list-groups",
        flags: RO | GLOBAL,
        who: H | G,
        weight: 2,
        ..D
    },
    Action {
        src: IAM,
        name: "GetUser",
        cli: "iam.get-user",
        flags: RO | GLOBAL,
        who: H | G | T,
        weight: 3,
        req: r#"{"userName":"%U"}"#,
        ..D
    },
    Action {
        src: IAM,
        name: "ListAccessKeys",
        cli: "iam.list-access-keys",
        flags: RO | GLOBAL,
        who: H | G,
        weight: 2,
        req: r#"{"userName":"%U"}"#,
        ..D
    },
    Action {
        src: IAM,
        name: "ListPolicies",
        cli: "iam.list-policies",
        flags: RO | GLOBAL,
        who: HC | T | G,
        weight: 3,
        req: r#"{"scope":"Local","onlyAttached":false,"policyUsageFilter":"PermissionsPolicy"}"#,
        ..D
    },
    Action {
        src: IAM,
        name: "GetRole",
        cli: "iam.get-role",
        flags: RO | GLOBAL,
        who: HC | T | G | P,
        weight: 8,
        req: r#"{"roleName":"%Q"}"#,
        ..D
    },
    Action {
        src: IAM,
        name: "ListAttachedRolePolicies",
        cli: "iam.list-attached-role-policies",
        flags: RO | GLOBAL,
        who: HC | T | G,
        weight: 5,
        req: r#"{"roleName":"%Q"}"#,
        ..D
    },
    Action {
        src: IAM,
        name: "GetAccountSummary",
        cli: "iam.get-account-summary",
        flags: RO | GLOBAL,
        who: HC,
        weight: 2,
        ..D
    },
    Action {
        src: IAM,
        name: "ListInstanceProfiles",
        cli: "iam.list-instance-profiles",
        flags: RO | GLOBAL,
        who: HC | T,
        weight: 2,
        ..D
    },
    Action {
        src: IAM,
        name: "GetAccountAuthorizationDetails",
        cli: "iam.get-account-authorization-details",
        flags: RO | GLOBAL,
        who: G,
        weight: 1,
        req: r#"{"filter":["User","Role","Group","LocalManagedPolicy"]}"#,
        ..D
    },
    Action {
        src: IAM,
        name: "CreateUser",
        cli: "iam.create-user",
        flags: GLOBAL,
        who: HC | T,
        weight: 1,
        req: r#"{"userName":"%U","tags":[{"key":"team","value":"platform"}]}"#,
        resp: r#"{"user":{"path":"/","userName":"%U","userId":"AIDA%X","arn":"arn:aws:iam::%A:user/%U","createDate":"%Y","tags":[{"key":"team","value":"platform"}]}}"#,
        ..D
    },
    Action {
        src: IAM,
        name: "AttachRolePolicy",
        cli: "iam.attach-role-policy",
        flags: GLOBAL,
        who: HC | T,
        weight: 1,
        req: r#"{"roleName":"%Q","policyArn":"arn:aws:iam::aws:policy/ReadOnlyAccess"}"#,
        ..D
    },
    Action {
        src: IAM,
        name: "CreateAccessKey",
        cli: "iam.create-access-key",
        flags: GLOBAL,
        who: HC,
        weight: 1,
        req: r#"{"userName":"%U"}"#,
        resp: r#"{"accessKey":{"userName":"%U","accessKeyId":"AKIA%X","status":"Active","createDate":"%Y"}}"#,
        ..D
    },
    // ---- STS
    Action {
        src: STS,
        name: "GetCallerIdentity",
        cli: "sts.get-caller-identity",
        who: H | C | P | T,
        weight: 30,
        ..D
    },
    Action {
        src: STS,
        name: "AssumeRole",
        cli: "sts.assume-role",
        who: C | P | T | S,
        weight: 6,
        req: r#"{"roleArn":"arn:aws:iam::%A:role/%Q","roleSessionName":"%F","durationSeconds":3600}"#,
        resp: r#"{"credentials":{"accessKeyId":"ASIA%X","sessionToken":"IQoJb3JpZ2luX2VjE%Z","expiration":"%Y"},"assumedRoleUser":{"assumedRoleId":"AROA%X:%F","arn":"arn:aws:sts::%A:assumed-role/%Q/%F"}}"#,
        res: ROLE_RES,
        ..D
    },
    // ---- S3
    Action {
        src: S3,
        name: "ListBuckets",
        cli: "s3api.list-buckets",
        flags: RO | GLOBAL,
        who: H | C | P | T,
        weight: 8,
        req: r#"{"Host":"s3.amazonaws.com"}"#,
        extra: r#"{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":0,"AuthenticationMethod":"AuthHeader","bytesTransferredOut":%N}"#,
        host: "s3.amazonaws.com",
        ..D
    },
    Action {
        src: S3,
        name: "GetBucketPolicy",
        cli: "s3api.get-bucket-policy",
        who: H | P | T | G | S,
        weight: 6,
        req: r#"{"bucketName":"%B","Host":"%B.s3.%R.amazonaws.com","policy":""}"#,
        extra: S3_MGMT_EXTRA,
        host: "%B.s3.%R.amazonaws.com",
        ..D
    },
    Action {
        src: S3,
        name: "GetBucketAcl",
        cli: "s3api.get-bucket-acl",
        who: H | P | T | G | S,
        weight: 8,
        req: r#"{"bucketName":"%B","Host":"%B.s3.%R.amazonaws.com","acl":""}"#,
        extra: S3_MGMT_EXTRA,
        host: "%B.s3.%R.amazonaws.com",
        ..D
    },
    Action {
        src: S3,
        name: "GetBucketLocation",
        cli: "s3api.get-bucket-location",
        who: H | P | T,
        weight: 6,
        req: r#"{"bucketName":"%B","Host":"%B.s3.amazonaws.com","location":""}"#,
        extra: S3_MGMT_EXTRA,
        host: "%B.s3.amazonaws.com",
        ..D
    },
    Action {
        src: S3,
        name: "GetObject",
        cli: "s3.cp",
        flags: RO | DATA,
        who: C | P | A,
        weight: 8,
        req: r#"{"bucketName":"%B","Host":"%B.s3.%R.amazonaws.com","key":"%K"}"#,
        res: S3_OBJ_RES,
        extra: S3_EXTRA,
        host: "%B.s3.%R.amazonaws.com",
        ..D
    },
    Action {
        src: S3,
        name: "PutObject",
        cli: "s3.cp",
        flags: DATA,
        who: C | P | S,
        weight: 6,
        req: r#"{"bucketName":"%B","Host":"%B.s3.%R.amazonaws.com","key":"%K","x-amz-server-side-encryption":"aws:kms"}"#,
        resp: r#"{"x-amz-server-side-encryption":"aws:kms","x-amz-version-id":"%Z"}"#,
        res: S3_OBJ_RES,
        extra: S3_PUT_EXTRA,
        host: "%B.s3.%R.amazonaws.com",
    },
    Action {
        src: S3,
        name: "PutBucketPolicy",
        cli: "s3api.put-bucket-policy",
        flags: 0,
        who: HC | T,
        weight: 1,
        req: r#"{"bucketName":"%B","Host":"%B.s3.%R.amazonaws.com","bucketPolicy":{"Version":"2012-10-17","Statement":[{"Sid":"DenyInsecure","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::%B/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]},"policy":""}"#,
        extra: S3_MGMT_EXTRA,
        host: "%B.s3.%R.amazonaws.com",
        ..D
    },
    // ---- KMS
    Action {
        src: KMS,
        name: "Decrypt",
        cli: "kms.decrypt",
        who: P | S,
        weight: 12,
        req: r#"{"encryptionAlgorithm":"SYMMETRIC_DEFAULT","encryptionContext":{"aws:lambda:FunctionArn":"arn:aws:lambda:%R:%A:function:%F"}}"#,
        res: KMS_KEY_RES,
        ..D
    },
    Action {
        src: KMS,
        name: "GenerateDataKey",
        cli: "kms.generate-data-key",
        who: P | S,
        weight: 10,
        req: r#"{"keyId":"arn:aws:kms:%R:%A:key/%S","encryptionContext":{"aws:s3:arn":"arn:aws:s3:::%B/%K"},"keySpec":"AES_256"}"#,
        res: KMS_KEY_RES,
        ..D
    },
    Action {
        src: KMS,
        name: "Encrypt",
        cli: "kms.encrypt",
        who: P,
        weight: 6,
        req: r#"{"keyId":"alias/app-%T","encryptionAlgorithm":"SYMMETRIC_DEFAULT"}"#,
        res: KMS_KEY_RES,
        ..D
    },
    Action {
        src: KMS,
        name: "ListKeys",
        cli: "kms.list-keys",
        who: H | G,
        weight: 2,
        req: r#"{"limit":1000}"#,
        ..D
    },
    Action {
        src: KMS,
        name: "ListAliases",
        cli: "kms.list-aliases",
        who: HC | T,
        weight: 3,
        ..D
    },
    Action {
        src: KMS,
        name: "DescribeKey",
        cli: "kms.describe-key",
        who: H | C | P | T | G,
        weight: 8,
        req: r#"{"keyId":"alias/aws/s3"}"#,
        res: KMS_KEY_RES,
        ..D
    },
    Action {
        src: KMS,
        name: "GetKeyPolicy",
        cli: "kms.get-key-policy",
        who: H | T | G,
        weight: 2,
        req: r#"{"keyId":"%S","policyName":"default"}"#,
        res: KMS_KEY_RES,
        ..D
    },
    // ---- Lambda
    Action {
        src: LAMBDA,
        name: "ListFunctions20150331",
        cli: "lambda.list-functions",
        who: H | C | T | G,
        weight: 5,
        ..D
    },
    Action {
        src: LAMBDA,
        name: "GetFunction20150331v2",
        cli: "lambda.get-function",
        who: H | C | P | T,
        weight: 6,
        req: r#"{"functionName":"%F"}"#,
        ..D
    },
    Action {
        src: LAMBDA,
        name: "GetAccountSettings20160819",
        cli: "lambda.get-account-settings",
        who: HC,
        weight: 1,
        ..D
    },
    Action {
        src: LAMBDA,
        name: "Invoke",
        cli: "lambda.invoke",
        flags: DATA,
        who: C | P,
        weight: 8,
        req: r#"{"functionName":"arn:aws:lambda:%R:%A:function:%F","invocationType":"RequestResponse","logType":"None"}"#,
        res: LAMBDA_RES,
        ..D
    },
    Action {
        src: LAMBDA,
        name: "UpdateFunctionCode20150331v2",
        cli: "lambda.update-function-code",
        flags: 0,
        who: C | T,
        weight: 2,
        req: r#"{"functionName":"%F","publish":true,"dryRun":false,"s3Bucket":"%B","s3Key":"%K"}"#,
        resp: r#"{"functionName":"%F","functionArn":"arn:aws:lambda:%R:%A:function:%F","runtime":"python3.12","role":"arn:aws:iam::%A:role/%Q","handler":"app.handler","codeSize":%N,"timeout":30,"memorySize":512,"version":"%N","state":"Active"}"#,
        ..D
    },
    // ---- RDS
    Action {
        src: RDS,
        name: "DescribeDBInstances",
        cli: "rds.describe-db-instances",
        who: H | C | P | G,
        weight: 8,
        ..D
    },
    Action {
        src: RDS,
        name: "DescribeDBSnapshots",
        cli: "rds.describe-db-snapshots",
        who: H | G,
        weight: 2,
        req: r#"{"dBInstanceIdentifier":"%T-db","includeShared":false,"includePublic":false}"#,
        ..D
    },
    Action {
        src: RDS,
        name: "DescribeDBClusters",
        cli: "rds.describe-db-clusters",
        who: H | P | G,
        weight: 4,
        req: r#"{"includeShared":false}"#,
        ..D
    },
    Action {
        src: RDS,
        name: "CreateDBSnapshot",
        cli: "rds.create-db-snapshot",
        flags: 0,
        who: C | P,
        weight: 1,
        req: r#"{"dBSnapshotIdentifier":"%T-db-%N","dBInstanceIdentifier":"%T-db"}"#,
        resp: r#"{"dBSnapshotIdentifier":"%T-db-%N","dBInstanceIdentifier":"%T-db","engine":"postgres","allocatedStorage":100,"status":"creating","port":5432,"availabilityZone":"%Ra","vpcId":"vpc-0%I%I","instanceCreateTime":"%Y","masterUsername":"postgres","engineVersion":"16.1","snapshotType":"manual","storageType":"gp3","encrypted":true}"#,
        ..D
    },
    // ---- DynamoDB
    Action {
        src: DDB,
        name: "ListTables",
        cli: "dynamodb.list-tables",
        who: H | C | T | G,
        weight: 4,
        ..D
    },
    Action {
        src: DDB,
        name: "DescribeTable",
        cli: "dynamodb.describe-table",
        who: H | C | P | T | G,
        weight: 10,
        req: r#"{"tableName":"%T"}"#,
        res: DDB_RES,
        ..D
    },
    Action {
        src: DDB,
        name: "GetItem",
        cli: "dynamodb.get-item",
        flags: RO | DATA,
        who: C | P,
        weight: 10,
        req: r#"{"tableName":"%T","key":{"pk":"HIDDEN_DUE_TO_SECURITY_REASONS","sk":"HIDDEN_DUE_TO_SECURITY_REASONS"},"consistentRead":false}"#,
        res: DDB_RES,
        ..D
    },
    Action {
        src: DDB,
        name: "PutItem",
        cli: "dynamodb.put-item",
        flags: DATA,
        who: P,
        weight: 8,
        req: r#"{"tableName":"%T","key":{"pk":"HIDDEN_DUE_TO_SECURITY_REASONS","sk":"HIDDEN_DUE_TO_SECURITY_REASONS"},"returnValues":"NONE"}"#,
        res: DDB_RES,
        ..D
    },
    Action {
        src: DDB,
        name: "Query",
        cli: "dynamodb.query",
        flags: RO | DATA,
        who: C | P,
        weight: 8,
        req: r#"{"tableName":"%T","indexName":"gsi1","keyConditionExpression":"pk = :pk","limit":100,"scanIndexForward":true}"#,
        res: DDB_RES,
        ..D
    },
    // ---- CloudFront (global)
    Action {
        src: CF,
        name: "ListDistributions",
        cli: "cloudfront.list-distributions",
        flags: RO | GLOBAL,
        who: H | T | G,
        weight: 2,
        ..D
    },
    Action {
        src: CF,
        name: "GetDistribution",
        cli: "cloudfront.get-distribution",
        flags: RO | GLOBAL,
        who: H | T,
        weight: 2,
        req: r#"{"id":"E%X"}"#,
        ..D
    },
    Action {
        src: CF,
        name: "CreateInvalidation",
        cli: "cloudfront.create-invalidation",
        flags: GLOBAL,
        who: C | T | P,
        weight: 1,
        req: r#"{"distributionId":"E%X","invalidationBatch":{"paths":{"quantity":1,"items":["/*"]},"callerReference":"cli-%N"}}"#,
        resp: r#"{"location":"https://cloudfront.amazonaws.com/2020-05-31/distribution/E%X/invalidation/I%X","invalidation":{"id":"I%X","status":"InProgress","createTime":"%Y"}}"#,
        ..D
    },
    // ---- ELB
    Action {
        src: ELB,
        name: "DescribeLoadBalancers",
        cli: "elbv2.describe-load-balancers",
        who: H | C | T | G,
        weight: 5,
        ..D
    },
    Action {
        src: ELB,
        name: "DescribeTargetGroups",
        cli: "elbv2.describe-target-groups",
        who: H | T | G,
        weight: 4,
        req: r#"{"loadBalancerArn":"arn:aws:elasticloadbalancing:%R:%A:loadbalancer/app/web-%N/%I%I"}"#,
        ..D
    },
    Action {
        src: ELB,
        name: "DescribeTargetHealth",
        cli: "elbv2.describe-target-health",
        who: P,
        weight: 20,
        req: r#"{"targetGroupArn":"arn:aws:elasticloadbalancing:%R:%A:targetgroup/web-%N/%I%I"}"#,
        ..D
    },
    Action {
        src: ELB,
        name: "RegisterTargets",
        cli: "elbv2.register-targets",
        flags: 0,
        who: P | T,
        weight: 3,
        req: r#"{"targetGroupArn":"arn:aws:elasticloadbalancing:%R:%A:targetgroup/web-%N/%I%I","targets":[{"id":"i-0%I%I","port":8080}]}"#,
        ..D
    },
    // ---- Route 53 (global)
    Action {
        src: R53,
        name: "ListHostedZones",
        cli: "route53.list-hosted-zones",
        flags: RO | GLOBAL,
        who: H | T,
        weight: 3,
        ..D
    },
    Action {
        src: R53,
        name: "ListResourceRecordSets",
        cli: "route53.list-resource-record-sets",
        flags: RO | GLOBAL,
        who: H | P | T,
        weight: 5,
        req: r#"{"hostedZoneId":"Z0%X"}"#,
        ..D
    },
    Action {
        src: R53,
        name: "ChangeResourceRecordSets",
        cli: "route53.change-resource-record-sets",
        flags: GLOBAL,
        who: P | T,
        weight: 2,
        req: r#"{"hostedZoneId":"Z0%X","changeBatch":{"changes":[{"action":"UPSERT","resourceRecordSet":{"name":"api-%N.example.com","type":"CNAME","tTL":300,"resourceRecords":[{"value":"web-%N.%R.elb.amazonaws.com"}]}}]}}"#,
        resp: r#"{"changeInfo":{"id":"/change/C0%X","status":"PENDING","submittedAt":"%Y"}}"#,
        ..D
    },
    // ---- ECS
    Action {
        src: ECS,
        name: "ListClusters",
        cli: "ecs.list-clusters",
        who: H | T,
        weight: 2,
        ..D
    },
    Action {
        src: ECS,
        name: "ListServices",
        cli: "ecs.list-services",
        who: H | T,
        weight: 2,
        req: r#"{"cluster":"%C"}"#,
        ..D
    },
    Action {
        src: ECS,
        name: "DescribeServices",
        cli: "ecs.describe-services",
        who: H | C | P | T,
        weight: 10,
        req: r#"{"cluster":"%C","services":["%C-api","%C-worker"]}"#,
        ..D
    },
    Action {
        src: ECS,
        name: "DescribeTasks",
        cli: "ecs.describe-tasks",
        who: C | P,
        weight: 10,
        req: r#"{"cluster":"%C","tasks":["arn:aws:ecs:%R:%A:task/%C/%I%I%I%I"]}"#,
        ..D
    },
    Action {
        src: ECS,
        name: "UpdateService",
        cli: "ecs.update-service",
        flags: 0,
        who: C | T | P,
        weight: 2,
        req: r#"{"cluster":"%C","service":"%C-api","desiredCount":3,"forceNewDeployment":true}"#,
        ..D
    },
    // ---- Bedrock, SageMaker
    Action {
        src: BEDROCK,
        name: "InvokeModel",
        cli: "bedrock-runtime.invoke-model",
        who: P,
        weight: 15,
        req: r#"{"modelId":"anthropic.claude-3-haiku-20240307-v1:0"}"#,
        res: r#"[{"accountId":"%A","type":"AWS::Bedrock::Model","ARN":"arn:aws:bedrock:%R::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"}]"#,
        ..D
    },
    Action {
        src: BEDROCK,
        name: "ListFoundationModels",
        cli: "bedrock.list-foundation-models",
        who: HC,
        weight: 1,
        ..D
    },
    Action {
        src: SM,
        name: "ListNotebookInstances",
        cli: "sagemaker.list-notebook-instances",
        who: H,
        weight: 1,
        ..D
    },
    Action {
        src: SM,
        name: "DescribeTrainingJob",
        cli: "sagemaker.describe-training-job",
        who: C | P,
        weight: 3,
        req: r#"{"trainingJobName":"%T-train-%N"}"#,
        ..D
    },
    // ---- CloudWatch Logs
    Action {
        src: LOGS,
        name: "CreateLogStream",
        cli: "logs.create-log-stream",
        flags: 0,
        who: P,
        weight: 12,
        req: r#"{"logGroupName":"/aws/lambda/%F","logStreamName":"%D/[$LATEST]%I%I%I%I"}"#,
        ..D
    },
    Action {
        src: LOGS,
        name: "DescribeLogGroups",
        cli: "logs.describe-log-groups",
        who: H | C | T,
        weight: 4,
        req: r#"{"logGroupNamePrefix":"/aws/lambda/%F"}"#,
        ..D
    },
    Action {
        src: LOGS,
        name: "FilterLogEvents",
        cli: "logs.filter-log-events",
        who: HC,
        weight: 4,
        req: r#"{"logGroupName":"/aws/lambda/%F","filterPattern":"ERROR","startTime":1767571200000,"interleaved":true}"#,
        ..D
    },
    // ---- CloudTrail, Config
    Action {
        src: CT,
        name: "LookupEvents",
        cli: "cloudtrail.lookup-events",
        who: H,
        weight: 4,
        req: r#"{"maxResults":50,"lookupAttributes":[{"attributeKey":"ReadOnly","attributeValue":"false"}]}"#,
        ..D
    },
    Action {
        src: CT,
        name: "DescribeTrails",
        cli: "cloudtrail.describe-trails",
        who: H | T | G,
        weight: 2,
        req: r#"{"includeShadowTrails":false}"#,
        ..D
    },
    Action {
        src: CT,
        name: "GetTrailStatus",
        cli: "cloudtrail.get-trail-status",
        who: G,
        weight: 1,
        req: r#"{"name":"arn:aws:cloudtrail:%R:%A:trail/org-trail"}"#,
        ..D
    },
    Action {
        src: CONFIG,
        name: "PutEvaluations",
        cli: "configservice.put-evaluations",
        flags: 0,
        who: P,
        weight: 3,
        req: r#"{"evaluations":[{"complianceResourceType":"AWS::EC2::SecurityGroup","complianceResourceId":"sg-0%I%I","complianceType":"COMPLIANT","orderingTimestamp":"%Y"}],"resultToken":"%Z","testMode":false}"#,
        resp: r#"{"failedEvaluations":[]}"#,
        ..D
    },
    Action {
        src: CONFIG,
        name: "DescribeConfigRules",
        cli: "configservice.describe-config-rules",
        who: H | T,
        weight: 1,
        ..D
    },
    // ---- Console sign-in
    Action {
        src: SIGNIN_SRC,
        name: "ConsoleLogin",
        cli: "",
        flags: SIGNIN | GLOBAL,
        who: H,
        weight: 2,
        resp: r#"{"ConsoleLogin":"Success"}"#,
        extra: r#"{"LoginTo":"https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true","MobileVersion":"No","MFAIdentifier":"arn:aws:iam::%A:mfa/%U","MFAUsed":"Yes"}"#,
        ..D
    },
];

/// The Elastic rule's default `event.provider` list.
pub(crate) const ELASTIC_PROVIDERS: &[&str] = &[
    "iam.amazonaws.com",
    "ec2.amazonaws.com",
    "s3.amazonaws.com",
    "rds.amazonaws.com",
    "lambda.amazonaws.com",
    "dynamodb.amazonaws.com",
    "kms.amazonaws.com",
    "cloudfront.amazonaws.com",
    "elasticloadbalancing.amazonaws.com",
];

/// The Sentinel rule's default term list.
pub(crate) const SENTINEL_TERMS: &[&str] = &[
    "iam.list-users",
    "iam.list-groups",
    "ec2.describe-vpcs",
    "ec2.describe-subnets",
    "route53.list-hosted-zones",
    "kms.list-keys",
    "kms.list-aliases",
    "ecs.list-clusters",
    "ecs.list-services",
    "iam.list-roles",
    "iam.get-user",
    "iam.list-access-keys",
    "ec2.describe-security-groups",
    "ec2.describe-network-acls",
    "ec2.describe-network-interfaces",
    "ec2.describe-route-tables",
    "ec2.describe-internet-gateways",
    "ec2.describe-vpc-peering-connections",
    "ec2.describe-transit-gateway-vpc-attachment",
    "ec2.describe-vpc",
];

/// The Sentinel seed's list differs: `iam.get-user` and
/// `iam.list-access-keys` are fused into one entry by a missing comma.
pub(crate) const SENTINEL_SEED_TERMS: &[&str] = &[
    "iam.list-users",
    "iam.list-groups",
    "ec2.describe-vpcs",
    "ec2.describe-subnets",
    "route53.list-hosted-zones",
    "kms.list-keys",
    "kms.list-aliases",
    "ecs.list-clusters",
    "ecs.list-services",
    "iam.list-roles",
    "iam.get-useriam.list-access-keys",
    "ec2.describe-security-groups",
    "ec2.describe-network-acls",
    "ec2.describe-network-interfaces",
    "ec2.describe-route-tables",
    "ec2.describe-internet-gateways",
    "ec2.describe-vpc-peering-connections",
    "ec2.describe-transit-gateway-vpc-attachment",
    "ec2.describe-vpc",
];

/// Commands the Sentinel bursts draw from: each contains a term of the
/// default list as a whole word (`ec2.describe-vpc-endpoints` through the
/// `ec2.describe-vpc` term). The last 16 call services on the Elastic
/// provider list; the first 3 (route53, ecs) do not.
pub(crate) const BURST_SUSPICIOUS: &[&str] = &[
    "route53.list-hosted-zones",
    "ecs.list-clusters",
    "ecs.list-services",
    "iam.list-users",
    "iam.list-groups",
    "iam.list-roles",
    "iam.get-user",
    "iam.list-access-keys",
    "kms.list-keys",
    "kms.list-aliases",
    "ec2.describe-vpcs",
    "ec2.describe-subnets",
    "ec2.describe-security-groups",
    "ec2.describe-network-acls",
    "ec2.describe-network-interfaces",
    "ec2.describe-route-tables",
    "ec2.describe-internet-gateways",
    "ec2.describe-vpc-peering-connections",
    "ec2.describe-vpc-endpoints",
];

/// Index in [`BURST_SUSPICIOUS`] where the Elastic-countable ones start.
pub(crate) const BURST_SUSPICIOUS_ELASTIC_FROM: usize = 3;

/// Discovery commands for the Elastic bursts: all on the provider list,
/// none suspicious to Sentinel.
pub(crate) const BURST_DISCOVERY: &[&str] = &[
    "ec2.describe-instances",
    "ec2.describe-volumes",
    "ec2.describe-snapshots",
    "ec2.describe-images",
    "ec2.describe-key-pairs",
    "ec2.describe-regions",
    "s3api.list-buckets",
    "s3api.get-bucket-policy",
    "s3api.get-bucket-acl",
    "rds.describe-db-instances",
    "rds.describe-db-snapshots",
    "lambda.list-functions",
    "lambda.get-account-settings",
    "dynamodb.list-tables",
    "dynamodb.describe-table",
    "cloudfront.list-distributions",
    "elbv2.describe-load-balancers",
    "elbv2.describe-target-groups",
    "iam.list-policies",
    "iam.get-account-summary",
    "iam.list-instance-profiles",
    "kms.describe-key",
];

/// Describe calls of the Config service-role burst.
pub(crate) const BURST_CONFIG: &[&str] = &[
    "ec2.describe-instances",
    "ec2.describe-security-groups",
    "ec2.describe-vpcs",
    "ec2.describe-subnets",
    "ec2.describe-network-interfaces",
    "ec2.describe-volumes",
    "ec2.describe-route-tables",
    "ec2.describe-internet-gateways",
    "ec2.describe-network-acls",
    "rds.describe-db-instances",
    "elbv2.describe-load-balancers",
    "dynamodb.describe-table",
];

/// Calls that go with Elastic bursts without counting: STS is not on the
/// provider list, and `DescribeCapacityReservations` is excluded by name.
pub(crate) const BURST_UNCOUNTED: &[&str] = &[
    "sts.get-caller-identity",
    "ec2.describe-capacity-reservations",
];

/// What AWS services (type `AWSService`) call, by `invokedBy`.
pub(crate) const SERVICES: &[(&str, &[(&str, &str)])] = &[
    (
        "cloudtrail.amazonaws.com",
        &[
            (S3, "PutObject"),
            (S3, "GetBucketAcl"),
            (KMS, "GenerateDataKey"),
        ],
    ),
    ("lambda.amazonaws.com", &[(STS, "AssumeRole")]),
    ("ec2.amazonaws.com", &[(STS, "AssumeRole")]),
    ("ecs-tasks.amazonaws.com", &[(STS, "AssumeRole")]),
    (
        "s3.amazonaws.com",
        &[(KMS, "Decrypt"), (KMS, "GenerateDataKey")],
    ),
    (
        "logs.amazonaws.com",
        &[(KMS, "GenerateDataKey"), (KMS, "Decrypt")],
    ),
    (
        "config.amazonaws.com",
        &[(S3, "PutObject"), (S3, "GetBucketAcl"), (STS, "AssumeRole")],
    ),
    (
        "elasticloadbalancing.amazonaws.com",
        &[(S3, "PutObject"), (S3, "GetBucketPolicy")],
    ),
];

pub(crate) const REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-1",
    "us-east-1",
    "us-east-1",
    "us-west-2",
    "us-west-2",
    "eu-west-1",
    "eu-west-1",
    "eu-central-1",
    "us-east-2",
    "ap-southeast-2",
    "ap-northeast-1",
    "ca-central-1",
    "eu-north-1",
    "sa-east-1",
    "ap-south-1",
];

pub(crate) const EVENT_VERSIONS: &[&str] = &[
    "1.08", "1.08", "1.08", "1.08", "1.09", "1.09", "1.09", "1.11", "1.11",
];

// ---- user agents

pub(crate) const CONSOLE_AGENTS: &[&str] = &[
    "AWS Internal",
    "AWS Internal",
    "console.amazonaws.com",
    "console.amazonaws.com",
    "console.ec2.amazonaws.com",
    "signin.amazonaws.com",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
];

pub(crate) const BROWSER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
];

pub(crate) const ANON_AGENTS: &[&str] = &[
    "curl/8.5.0",
    "Wget/1.21.4",
    "python-requests/2.31.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
];

/// aws-cli v1: no command in the agent.
pub(crate) const CLI_V1: &[&str] = &[
    "aws-cli/1.29.62 Python/3.11.6 Linux/5.10.199-190.747.amzn2.x86_64 botocore/1.31.62",
    "aws-cli/1.32.14 Python/3.9.18 Darwin/23.2.0 botocore/1.34.14",
    "aws-cli/1.27.160 Python/3.8.10 Linux/5.15.0-1051-aws botocore/1.29.160",
];

/// aws-cli v2, legacy form: ` prompt/off command/SERVICE.OP` is appended.
pub(crate) const CLI_V2_LEGACY: &[&str] = &[
    "aws-cli/2.13.25 Python/3.11.5 Linux/5.10.199-190.747.amzn2.x86_64 exe/x86_64.amzn.2",
    "aws-cli/2.15.30 Python/3.11.8 Darwin/23.3.0 exe/x86_64",
    "aws-cli/2.13.0 Python/3.11.4 Windows/10 exe/AMD64",
    "aws-cli/2.17.49 Python/3.12.6 Linux/6.1.109-118.189.amzn2023.x86_64 exe/x86_64.amzn.2023",
];

/// aws-cli v2, current form: ` md/command#SERVICE.OP` is appended.
pub(crate) const CLI_V2_CURRENT: &[&str] = &[
    "aws-cli/2.31.1 md/awscrt#0.27.6 ua/2.1 os/linux#6.1.147 md/arch#x86_64 lang/python#3.13.7 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off",
    "aws-cli/2.27.49 md/awscrt#0.26.1 ua/2.1 os/macos#24.5.0 md/arch#arm64 lang/python#3.13.4 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off",
    "aws-cli/2.24.2 md/awscrt#0.23.8 ua/2.0 os/windows#10 md/arch#amd64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off",
];

/// Trailing feature-id markers some current agents carry after the command.
pub(crate) const CLI_V2_CURRENT_TAILS: &[&str] = &["", "", "", " m/E,b", " m/Z,b"];

pub(crate) const CLI_UPPER: &str =
    "AWS-CLI/2.13.25 Python/3.11.5 Linux/5.10.199-190.747.amzn2.x86_64 exe/x86_64.amzn.2";
pub(crate) const CLI_BRACKETED: &str =
    "[aws-cli/1.18.69 Python/3.7.9 Linux/4.14.186-146.268.amzn2.x86_64 botocore/1.17.44]";

/// SDK agents: `(prefix, suffix)`; when the suffix is not empty the agent
/// is `prefix + service + suffix` (`api/iam#1.28.5`).
pub(crate) const SDK_AGENTS: &[(&str, &str)] = &[
    (
        "Boto3/1.34.1 md/Botocore#1.34.1 ua/2.0 os/linux#5.10 md/arch#x86_64 lang/python#3.11.6 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.1",
        "",
    ),
    (
        "Boto3/1.34.145 md/Botocore#1.34.145 ua/2.0 os/linux#5.10.219 md/arch#x86_64 lang/python#3.12.4 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.145",
        "",
    ),
    (
        "aws-sdk-go-v2/1.24.0 os/linux lang/go#1.21.5 md/GOOS#linux md/GOARCH#amd64 api/",
        "#1.28.5",
    ),
    (
        "aws-sdk-go-v2/1.30.3 ua/2.0 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#arm64 api/",
        "#1.34.2",
    ),
    (
        "aws-sdk-java/1.12.561 Linux/5.10.199 OpenJDK_64-Bit_Server_VM/17.0.9+8-LTS java/17.0.9 vendor/Amazon.com_Inc. cfg/retry-mode/standard",
        "",
    ),
    (
        "aws-sdk-java/2.21.29 Linux/6.1.61 OpenJDK_64-Bit_Server_VM/21.0.1+12-LTS Java/21.0.1 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy",
        "",
    ),
    (
        "aws-sdk-nodejs/2.1528.0 linux/v18.19.0 exec-env/AWS_ECS_FARGATE promise",
        "",
    ),
    (
        "aws-sdk-js/3.485.0 ua/2.0 os/linux#5.10.205 lang/js md/nodejs#20.10.0 api/",
        "#3.485.0",
    ),
    (
        "[aws-cli/1.22.34 Python/3.10.12 Linux/5.15.0-1051-aws botocore/1.23.34]",
        "",
    ),
    ("aws-sdk-go/1.44.298 (go1.20.5; linux; amd64)", ""),
    ("aws-sdk-go/1.50.8 (go1.21.6; linux; arm64)", ""),
    (
        "Boto3/1.26.137 Python/3.9.16 Linux/5.10.184-175.731.amzn2.x86_64 Botocore/1.29.137",
        "",
    ),
    (
        "aws-sdk-php/3.295.2 OS/Linux/5.15.0-1051-aws lang/php/8.2.13 GuzzleHttp/7",
        "",
    ),
    ("aws-sdk-ruby3/3.190.3 ruby/3.2.2 x86_64-linux", ""),
];

pub(crate) const TERRAFORM_AGENTS: &[(&str, &str)] = &[
    (
        "APN/1.0 HashiCorp/1.0 Terraform/1.6.6 (+https://www.terraform.io) terraform-provider-aws/5.31.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go/1.49.13 (go1.21.5; linux; amd64)",
        "",
    ),
    (
        "APN/1.0 HashiCorp/1.0 Terraform/1.5.7 (+https://www.terraform.io) terraform-provider-aws/5.17.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go/1.45.12 (go1.20.8; linux; amd64)",
        "",
    ),
];

pub(crate) const CONFIG_AGENTS: &[&str] = &["config.amazonaws.com", "AWS Config"];

// ---- names

pub(crate) const FIRST: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yusuf", "zoe",
    "amara", "bruno", "chen", "diego", "elif", "farah", "goran", "hana", "ines", "jonas", "kenji",
    "lena", "mateo", "nadia", "oskar", "priya", "quinn", "rosa", "sven",
];

pub(crate) const LAST: &[&str] = &[
    "smith",
    "nguyen",
    "garcia",
    "mueller",
    "kowalski",
    "tanaka",
    "silva",
    "okafor",
    "johansson",
    "rossi",
    "dubois",
    "novak",
    "haddad",
    "kim",
    "patel",
    "obrien",
    "fischer",
    "martin",
    "lopez",
    "ivanova",
    "schmidt",
    "costa",
    "yilmaz",
    "larsen",
    "moreau",
    "wang",
    "singh",
    "murphy",
    "khan",
    "berg",
];

pub(crate) const EMAIL_DOMAINS: &[&str] = &["example.com", "example.org", "corp.example.net"];

pub(crate) const SERVICE_USERS: &[&str] = &[
    "jenkins",
    "gitlab-runner",
    "backup-agent",
    "datadog",
    "svc-deploy",
    "svc-etl",
    "terraform",
    "grafana",
    "splunk-forwarder",
    "ops/break-glass",
    "ci/github-actions",
    "legacy-app",
];

pub(crate) const HUMAN_ROLES: &[&str] = &[
    "DevOpsAccess",
    "OrganizationAccountAccessRole",
    "ReadOnlyAuditor",
    "DataEngineer",
    "PlatformAdmin",
    "SecurityAnalyst",
    "Developer",
];

pub(crate) const SSO_PERMISSION_SETS: &[&str] = &[
    "AdministratorAccess",
    "ReadOnlyAccess",
    "PowerUserAccess",
    "ViewOnlyAccess",
    "DataScientist",
];

pub(crate) const APP_ROLES: &[&str] = &[
    "ecsTaskExecutionRole",
    "eks-node-group-role",
    "ec2-app-server",
    "github-actions-deploy",
    "datadog-integration",
    "karpenter-controller",
    "lambda-orders-role",
    "lambda-ingest-role",
    "emr-ec2-default",
    "glue-etl-role",
];

pub(crate) const BUCKETS: &[&str] = &[
    "acme-lake",
    "acme-trail-logs",
    "acme-static",
    "acme-backup-eu",
    "acme-ml-data",
    "acme-tfstate",
    "acme-builds",
    "acme-reports",
];

pub(crate) const OBJECT_KEYS: &[&str] = &[
    "raw/2026/01/05/part-00017.parquet",
    "AWSLogs/o-a1b2c3/trail.json.gz",
    "js/app.3f9c2a.min.js",
    "daily/report.csv",
    "churn/v12/model.tar.gz",
    "prod/terraform.tfstate",
    "api/1.42.0/api.zip",
    "img/logo.png",
];

pub(crate) const FUNCTIONS: &[&str] = &[
    "orders-api",
    "ingest-events",
    "thumbnailer",
    "nightly-report",
    "auth-authorizer",
    "stream-processor",
];

pub(crate) const TABLES: &[&str] = &[
    "orders",
    "sessions",
    "customers",
    "inventory",
    "feature-flags",
    "audit",
];

pub(crate) const CLUSTERS: &[&str] = &["prod", "staging", "payments", "batch"];

/// First octets of background IPs: clients on ISP networks.
pub(crate) const HUMAN_NETS: &[u8] = &[
    24, 31, 46, 62, 73, 76, 77, 81, 82, 84, 86, 88, 90, 93, 94, 98, 108, 176, 178, 188, 203, 212,
    217,
];

/// First octets of background IPs inside AWS.
pub(crate) const AWS_NETS: &[u8] = &[3, 13, 18, 34, 35, 44, 52, 54];

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(s: &str) -> bool {
        s.bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    }

    #[test]
    fn strings_need_no_escaping() {
        for a in ACTIONS {
            for s in [a.src, a.name, a.cli, a.host] {
                assert!(plain(s), "{s}");
            }
        }
        let lists: [&[&str]; 14] = [
            CONSOLE_AGENTS,
            BROWSER_AGENTS,
            ANON_AGENTS,
            CLI_V1,
            CLI_V2_LEGACY,
            CLI_V2_CURRENT,
            FIRST,
            LAST,
            SERVICE_USERS,
            HUMAN_ROLES,
            BUCKETS,
            OBJECT_KEYS,
            FUNCTIONS,
            TABLES,
        ];
        for s in lists.iter().flat_map(|l| l.iter()) {
            assert!(plain(s), "{s}");
        }
        for (p, s) in SDK_AGENTS.iter().chain(TERRAFORM_AGENTS) {
            assert!(plain(p) && plain(s));
        }
        assert!(plain(CLI_UPPER) && plain(CLI_BRACKETED));
    }

    #[test]
    fn burst_commands_are_known_calls() {
        for cli in BURST_SUSPICIOUS
            .iter()
            .chain(BURST_DISCOVERY)
            .chain(BURST_CONFIG)
            .chain(BURST_UNCOUNTED)
        {
            assert_eq!(ACTIONS.iter().filter(|a| a.cli == *cli).count(), 1, "{cli}");
        }
        for (_, calls) in SERVICES {
            for (src, name) in *calls {
                assert!(ACTIONS.iter().any(|a| a.src == *src && a.name == *name));
            }
        }
    }
}
