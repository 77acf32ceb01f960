#!/usr/bin/env bash
# Deploy one stack of the Pulumi program, check it answers, and say what to do next.
#
#   scripts/deploy.sh <stack> [--yes]
#
#   <stack>   dev, prod, or any stack you made with `pulumi stack init`
#   --yes     let `pulumi up` apply without asking (otherwise it shows the plan and asks)
#
# Steps, each of which stops the script with a reason and a non-zero exit:
#   1. prerequisites: the Pulumi CLI, the AWS CLI and working AWS credentials, curl,
#      and Docker unless the stack needs no image (MQTT handler off, or mqttImage set)
#   2. `pulumi stack select <stack>`
#   3. `pulumi preview --policy-pack policy`, then `pulumi up --policy-pack policy`
#   4. the UI build (UI_DIST, default ui/dist) copied to the UI bucket, and a
#      CloudFront invalidation when the stack has CloudFront
#   5. a smoke test: `<api_url>/api/health` (retried while a cold start settles),
#      then that the UI loads
#   6. the URLs and the next steps
#
# Knobs (environment): UI_DIST, SMOKE_TRIES (default 10), SMOKE_WAIT_S (default 6).
# tests/deploy/ runs this script with pulumi, aws, docker and curl replaced by
# recording stubs, since neither the Pulumi CLI nor AWS can be reached there.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROJECT="yoto-smart-stream"
UI_DIST="${UI_DIST:-$ROOT/ui/dist}"
SMOKE_TRIES="${SMOKE_TRIES:-10}"
SMOKE_WAIT_S="${SMOKE_WAIT_S:-6}"

fail() { # the reason, then the exit code (default 1)
  echo "deploy: error: $1" >&2
  exit "${2:-1}"
}
step() { echo "==> $*"; }

usage="usage: scripts/deploy.sh <stack> [--yes]"
stack=""
yes=""
for arg in "$@"; do
  case "$arg" in
    --yes) yes="--yes" ;;
    -h | --help) echo "$usage"; exit 0 ;;
    -*) fail "unknown option $arg; $usage" 2 ;;
    *)
      [ -z "$stack" ] || fail "one stack at a time; $usage" 2
      stack="$arg"
      ;;
  esac
done
[ -n "$stack" ] || fail "which stack? $usage" 2
[[ "$stack" =~ ^[A-Za-z0-9._-]+$ ]] || fail "'$stack' is not a stack name (letters, digits, '.', '_', '-')" 2
cd "$ROOT"

# ------------------------------------------------------------------ 1. prerequisites

step "checking prerequisites"
command -v pulumi >/dev/null 2>&1 ||
  fail "the Pulumi CLI is missing: 'pulumi' is not on PATH (install it: https://www.pulumi.com/docs/install/)"
command -v aws >/dev/null 2>&1 ||
  fail "the AWS CLI is missing: 'aws' is not on PATH (it uploads the UI; install it: https://aws.amazon.com/cli/)"
command -v curl >/dev/null 2>&1 || fail "curl is missing: 'curl' is not on PATH (it runs the smoke test)"
if ! identity="$(aws sts get-caller-identity --query Arn --output text 2>&1)"; then
  fail "no working AWS credentials: 'aws sts get-caller-identity' failed: ${identity//$'\n'/ } (run 'aws configure', or set AWS_PROFILE)"
fi
echo "    AWS identity: $identity"
pulumi whoami >/dev/null 2>&1 || fail "the Pulumi CLI is not logged in: run 'pulumi login' (any backend will do)"

# ------------------------------------------------------------------ 2. the stack

step "selecting stack $stack"
if ! out="$(pulumi stack select "$stack" 2>&1)"; then
  fail "cannot select stack '$stack': ${out//$'\n'/ } (make it with: pulumi stack init $stack)"
fi

config_get() { pulumi config get "$PROJECT:$1" --stack "$stack" 2>/dev/null || true; }
mqtt_on="$(config_get enableMqttHandler)"
mqtt_image="$(config_get mqttImage)"
if [ "${mqtt_on:-true}" != "false" ] && [ -z "$mqtt_image" ]; then
  command -v docker >/dev/null 2>&1 ||
    fail "Docker is missing: the stack runs the MQTT handler and builds its image (install Docker, or set $PROJECT:mqttImage to a prebuilt image, or enableMqttHandler to false)"
  docker info >/dev/null 2>&1 ||
    fail "the Docker daemon is not running: the stack builds the MQTT handler's image (start Docker, or set $PROJECT:mqttImage)"
  echo "    Docker: ready for the MQTT image build"
else
  echo "    Docker: not needed (MQTT handler ${mqtt_on:-true}, image ${mqtt_image:-none})"
fi

# ------------------------------------------------------------------ 3. preview, then up

step "pulumi preview --policy-pack policy"
pulumi preview --stack "$stack" --policy-pack policy ||
  fail "pulumi preview failed (exit $?): nothing was deployed; fix what it reports above and run again"

step "pulumi up --policy-pack policy${yes:+ --yes}"
# shellcheck disable=SC2086 # $yes is one word or nothing
pulumi up --stack "$stack" --policy-pack policy $yes ||
  fail "pulumi up failed (exit $?): the stack may be partly updated; fix what it reports above and run again"

outputs="$(pulumi stack output --stack "$stack" --json)" || fail "cannot read the stack outputs (pulumi stack output)"
output() { # one output by name, empty when the stack has none
  python3 -c 'import json, sys; print(json.loads(sys.argv[1]).get(sys.argv[2]) or "")' "$outputs" "$1"
}
api_url="$(output api_url)"
ui_url="$(output ui_url)"
ui_bucket="$(output ui_bucket_name)"
cloudfront="$(output cloudfront_domain)"
[ -n "$api_url" ] || fail "the stack has no api_url output: is this the $PROJECT program?"
api_url="${api_url%/}"
ui_url="${ui_url%/}"
public_url="${ui_url:-$api_url}"

# ------------------------------------------------------------------ 4. the UI

if [ -f "$UI_DIST/index.html" ]; then
  step "uploading the UI ($UI_DIST) to s3://$ui_bucket"
  aws s3 sync "$UI_DIST" "s3://$ui_bucket" --delete ||
    fail "uploading the UI to s3://$ui_bucket failed (exit $?)"
  if [ -n "$cloudfront" ]; then
    step "invalidating CloudFront ($cloudfront)"
    dist_id="$(aws cloudfront list-distributions --output text \
      --query "DistributionList.Items[?DomainName=='$cloudfront'].Id")" ||
      fail "cannot find the CloudFront distribution of $cloudfront"
    [ -n "$dist_id" ] && [ "$dist_id" != "None" ] || fail "no CloudFront distribution has the domain $cloudfront"
    aws cloudfront create-invalidation --distribution-id "$dist_id" --paths "/*" >/dev/null ||
      fail "the CloudFront invalidation of $dist_id failed (exit $?)"
  fi
else
  echo "    no UI build at $UI_DIST (index.html): nothing uploaded"
fi

# ------------------------------------------------------------------ 5. smoke test

step "smoke test: $api_url/api/health"
healthy=""
for try in $(seq 1 "$SMOKE_TRIES"); do
  if body="$(curl -fsS --max-time 15 "$api_url/api/health" 2>&1)" && [[ "$body" == *'"status":"ok"'* ]]; then
    healthy="yes"
    break
  fi
  echo "    try $try/$SMOKE_TRIES: not yet (${body//$'\n'/ })"
  if [ "$try" -lt "$SMOKE_TRIES" ]; then sleep "$SMOKE_WAIT_S"; fi
done
[ -n "$healthy" ] || fail "the API at $api_url/api/health did not answer ok after $SMOKE_TRIES tries"
echo "    $body"

step "smoke test: the UI at $public_url/"
page="$(curl -fsS --max-time 15 "$public_url/" 2>&1)" || fail "the UI at $public_url/ does not load: ${page//$'\n'/ }"
[[ "$page" == *"<html"* || "$page" == *"<!doctype html"* || "$page" == *"<!DOCTYPE html"* ]] ||
  fail "the UI at $public_url/ answered, but not with an HTML page"

# ------------------------------------------------------------------ 6. what next

region="$(pulumi config get aws:region --stack "$stack" 2>/dev/null || echo "${AWS_REGION:-eu-west-2}")"
aws_env="USE_AWS=true AWS_REGION=$region DYNAMODB_TABLE=$(output table_name) S3_AUDIO_BUCKET=$(output audio_bucket_name) COGNITO_USER_POOL_ID=$(output user_pool_id) COGNITO_CLIENT_ID=$(output user_pool_client_id)"
cat <<EOF

Deployed stack $stack.
  app:  $public_url
  API:  $api_url
EOF
if [ -n "$cloudfront" ]; then echo "  CloudFront: $cloudfront"; fi
cat <<EOF

Next steps:
  1. Create the first admin in the stack's user pool (the password is read from stdin;
     the CLI signs nothing, so any SESSION_SECRET satisfies its start-up check):
       $aws_env SESSION_SECRET=\$(openssl rand -hex 32) .venv/bin/python -m app create-user NAME --admin --password-stdin
  2. Register this redirect URI for your app in Yoto's developer dashboard:
       $public_url/api/yoto/callback
  3. Moving from a laptop? Copy the local install (DATA_DIR) in, users keep their passwords:
       DATA_DIR=./data $aws_env .venv/bin/python -m app migrate --to-aws --dry-run
       DATA_DIR=./data $aws_env .venv/bin/python -m app migrate --to-aws
     (docs/migration.md)
EOF
