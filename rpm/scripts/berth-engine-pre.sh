# %pre of berth-engine: create the berth group that owns /var/run/berth.sock.
# $1 is 1 on install and 2 on upgrade; both need the group, and this is idempotent.
if ! getent group berth >/dev/null 2>&1 && ! grep -q '^berth:' /etc/group 2>/dev/null; then
    groupadd --system berth
fi
