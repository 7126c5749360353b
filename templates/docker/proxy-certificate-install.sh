# The proxy's certificate job (run by `sh -c` in the proxy image, on the stack's private
# network, once per certificate: components/docker/proxy_certificate.py). The chain and key
# come in the job's environment (base64: one line each), a Pulumi secret.
#
# They are written as a new set of files next to the old one, and a `current` link is moved
# onto it with rename(2) (`mv -T`), so the proxy, which reads `current/chain.pem` and
# `current/key.pem`, never sees a new chain with an old key. Then, when the proxy is running,
# the job waits until it serves the new certificate (it polls the files and reloads:
# templates/docker/proxy-tls-watch.sh); if it does not within @@{wait_seconds} s, the link goes
# back to the old set, which the proxy still serves, and the job fails.
set -eu
umask 027
dir='@@{tls_dir}'
# A name of its own even for the same certificate again (a job replaced for another reason):
# the set the proxy reads is never touched.
set_name="set-$1-$(date +%s)-$$"
new="$dir/$set_name"
mkdir "$new"
printf '%s' "$DJANGO_STACK_TLS_CHAIN" | base64 -d > "$new/chain.pem"
printf '%s' "$DJANGO_STACK_TLS_KEY" | base64 -d > "$new/key.pem"
unset DJANGO_STACK_TLS_CHAIN DJANGO_STACK_TLS_KEY
# The chain is public; the key is for this uid (the proxy's) and its group only.
chmod 0750 "$new"
chmod 0644 "$new/chain.pem"
chmod 0640 "$new/key.pem"
old=$(readlink "$dir/current" 2>/dev/null || true)

switch_to() {
    ln -s "$1" "$dir/.current.new"
    mv -T "$dir/.current.new" "$dir/current"
}
keep_only() {
    for other in "$dir"/set-*; do
        [ "$other" = "$dir/$1" ] || rm -rf "$other"
    done
}

rm -f "$dir/.current.new"
switch_to "$set_name"
want=$(openssl x509 -in "$new/chain.pem" -noout -fingerprint -sha256)

proxy='@@{proxy_host}'
# Docker's DNS names only running containers: no answer, no proxy yet (the first `up`: it
# starts after this job and reads the files then).
if ! getent hosts "$proxy" >/dev/null; then
    keep_only "$set_name"
    echo "django-stack: certificate installed ($want); no proxy is running yet"
    exit 0
fi
served=''
end=$(( $(date +%s) + @@{wait_seconds} ))
while [ "$(date +%s)" -lt "$end" ]; do
    served=$(timeout 5 openssl s_client -connect "$proxy:@@{tls_port}" -servername localhost \
        </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256 2>/dev/null || true)
    if [ "$served" = "$want" ]; then
        keep_only "$set_name"
        echo "django-stack: the proxy serves the new certificate ($want)"
        exit 0
    fi
    sleep 1
done
if [ -n "$old" ] && [ "$old" != "$set_name" ] && [ -d "$dir/$old" ]; then
    switch_to "$old"
    rm -rf "$new"
    kept="the old certificate files are back in place"
else
    kept="there were no earlier files to go back to"
fi
echo "django-stack: the proxy $proxy did not serve the new certificate ($want) within" \
     "@@{wait_seconds} s; it serves ${served:-nothing on port @@{tls_port}}. Its log says why" \
     "(docker logs $proxy); $kept." >&2
exit 1
