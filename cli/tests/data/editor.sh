#!/bin/sh
# $EDITOR for the snapshot-edit sessions: edits the description, and renames
# snapshot 'ren' to 'renamed' and 'cl' to 'cl2' (the snapshot's own <name>
# is always line 2 of virsh's snapshot XML).
sed -i -e 's|<description>hello world</description>|<description>edited</description>|' \
    -e '2s|<name>ren</name>|<name>renamed</name>|' -e '2s|<name>cl</name>|<name>cl2</name>|' "$1"
