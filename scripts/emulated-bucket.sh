# Sourced by the S3 and fleet benchmarks: starts moto's server on a free-ish port of 127.0.0.1
# (its pid in $moto_pid, its URL in $url), points the AWS environment at it, defines `sign`
# (the Authorization header moto takes as signed, for a service) and `cpu` (a process's user +
# system clock ticks), and puts every file of $corpus in the bucket `bench`. Expects $work.
moto=$(scripts/test-moto.sh)
port=$((20000 + RANDOM % 20000))
url=http://127.0.0.1:$port
"$moto" -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
moto_pid=$!
until curl -s -o /dev/null "$url/moto-api/"; do sleep 0.2; done
export AWS_ENDPOINT_URL=$url AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 \
  AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
sign() { echo "Authorization: AWS4-HMAC-SHA256 Credential=testing/20240801/us-east-1/$1/aws4_request, SignedHeaders=host, Signature=0"; }
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
curl -s -X PUT -H "$(sign s3)" "$url/bench" -o /dev/null
(cd "$corpus" && find . -type f | sed 's|^\./||') | while read -r key; do
  curl -s -X PUT -H "$(sign s3)" -H "Content-Type: application/octet-stream" --data-binary "@$corpus/$key" "$url/bench/$key" -o /dev/null
done
