# The stack is set for Debian @@{codename} (@@{version}) (django-stack:debianRelease): another
# release would bring other Python and PostgreSQL versions than the ones it was told of.
os_id=$(. /etc/os-release && echo "${ID:-}")
os_codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
if [ "$os_id" != debian ] || [ "$os_codename" != @@{codename} ]; then
  echo "this host runs $(. /etc/os-release && echo "${PRETTY_NAME:-an unknown system}"), not" \
    "Debian @@{codename} (@@{version}): set django-stack:debianRelease to the hosts' release" >&2
  exit 1
fi
