# The proxy container's start with TLS (run by `sh -c`, the proxy's command as arguments).
#
# The certificate is not in the container's inputs: every input of a docker container is
# ForceNew (env, upload, volumes; kreuzwerker/terraform-provider-docker
# resource_docker_container.go), so a certificate there would replace the container, and its
# published ports would be down while it is recreated. Instead the stack's certificate job
# (components/docker/proxy_certificate.py) writes the chain and key into a volume this
# container mounts read-only, switching a `current` link to a new set of files in one
# rename, and this start watches that set and reloads the proxy gracefully when it changes.
#
# Polling (every @@{poll_seconds} s, a checksum of the two files) rather than inotify: no
# extra package in the image (inotify-tools), it sees a change however the volume is backed
# (inotify misses changes made on another host, as with an NFS-backed volume driver), and a
# `cksum` of two small files every few seconds costs nothing.
#
# The pair is checked before each reload: nginx keeps its old workers when a reload fails,
# but Apache's parent exits when a graceful restart cannot load its config
# (https://httpd.apache.org/docs/2.4/stopping.html), so an unchecked bad pair would take it
# down. `apache2 -t` alone does not catch a key that does not belong to the certificate
# (mod_ssl loads the pair after the syntax check: seen, AH02565 "do not match" and the
# parent gone), so the key's public half is compared with the certificate's first, with
# openssl, and then the proxy's own config test runs (`nginx -t` loads the pair too). A pair
# that fails is logged and not loaded; the certificate job then fails the `up`.
set -u
files='@@{chain_file} @@{key_file}'
# Both parse, and the key is the first certificate's.
pair_matches() {
    cert=$(openssl x509 -in '@@{chain_file}' -noout -pubkey 2>&1) \
        && key=$(openssl pkey -in '@@{key_file}' -pubout 2>&1) \
        && [ "$cert" = "$key" ]
}
state() {
    # shellcheck disable=SC2086 # the two paths are plain words (ProxyTls checks them)
    cat $files 2>/dev/null | cksum
}

"$@" &
server=$!
# This shell is PID 1: `docker stop` signals it (the container's stop signal, the proxy's
# graceful stop), and the proxy must get the signal.
trap 'kill -@@{stop_signal} "$server" 2>/dev/null' @@{stop_signal}
trap 'kill -TERM "$server" 2>/dev/null' TERM INT
seen=$(state)
while kill -0 "$server" 2>/dev/null; do
    # In the background, so that a trapped signal ends the wait at once, not after the sleep.
    sleep @@{poll_seconds} &
    wait $! 2>/dev/null
    now=$(state)
    [ "$now" = "$seen" ] && continue
    seen=$now
    if ! pair_matches; then
        echo "django-stack: the new certificate files fail the config test (the key is not" \
             "the certificate's, or a file is not PEM), so the proxy keeps serving the ones" \
             "it has" >&2
    elif check=$(@@{config_test} 2>&1); then
        kill -@@{reload_signal} "$server" 2>/dev/null
        echo "django-stack: new certificate files; the proxy reloads gracefully" >&2
    else
        echo "django-stack: the new certificate files fail the config test, so the proxy" \
             "keeps serving the ones it has:" >&2
        printf '%s\n' "$check" >&2
    fi
done
wait "$server"
