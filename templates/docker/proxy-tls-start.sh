# The proxy container's start with TLS (run by `sh -c`, the proxy's command as arguments):
# the certificate chain and the key come in the container's environment, a Pulumi secret,
# never in the image or its build context; base64, as an environment value is one line. They go to files on the container's private
# /tmp (memory), readable by the proxy's user alone, and leave the environment before the
# proxy starts.
set -eu
umask 077
mkdir -p @@{tls_dir}
printf '%s' "$DJANGO_STACK_TLS_CHAIN" | base64 -d > @@{chain_file}
printf '%s' "$DJANGO_STACK_TLS_KEY" | base64 -d > @@{key_file}
unset DJANGO_STACK_TLS_CHAIN DJANGO_STACK_TLS_KEY
exec "$@"
