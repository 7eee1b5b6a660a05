#!/bin/sh
# $EDITOR for the snapshot-edit re-edit test: the first run breaks the XML,
# later runs repair it and change the description. State in $REEDIT_STATE.
n=$(cat "$REEDIT_STATE" 2>/dev/null || echo 0)
n=$((n + 1))
echo "$n" >"$REEDIT_STATE"
if [ "$n" = 1 ]; then
    sed -i 's|</domainsnapshot>|<bogus|' "$1"
else
    sed -i -e 's|<bogus||' -e 's|<description>d</description>|<description>fixed</description>|' "$1"
    grep -q '</domainsnapshot>' "$1" || echo '</domainsnapshot>' >>"$1"
fi
