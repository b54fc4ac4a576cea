#!/bin/bash
# A recording stand-in for terraform, helm and kubectl (tests/deploy/support/mod.rs,
# `StandIns`): each call is logged with its time, and answers as the test's behaviour says.
# Builtins only (no `date`, `basename`, subshells) but `sleep`: many stand-ins run at once.
tool=${0##*/}
# What the test asked for (LOG, FAIL, HANG, SLEEP, VERIFY_EXIT, STATE, HELM_CHANGES,
# DURATIONS), written by `StandIns::new` next to the stand-ins.
. "${0%/*}/standin.conf"
if [ "$1" = "version" ]; then
  case "$tool" in
    terraform) echo '{"terraform_version":"1.11.4","platform":"linux_amd64"}' ;;
    helm) echo 'v3.19.2+gstandin' ;;
    kubectl) echo '{"clientVersion":{"gitVersion":"v1.34.2"}}' ;;
  esac
  exit 0
fi
line="$tool $*"
echo "start ${EPOCHREALTIME/,/.} $tool $PWD :: $*" >> "$LOG"
finish() { echo "end ${EPOCHREALTIME/,/.} $tool $1 :: ${line#* }" >> "$LOG"; exit "$1"; }
hit() { [ -n "$1" ] && [[ "$line" == *"$1"* ]]; }
if hit "$HANG"; then
  trap 'echo "interrupted ${EPOCHREALTIME/,/.} $tool 130 :: ${line#* }" >> "$LOG"; exit 130' INT
  sleep 30 & wait $!
  finish 1
fi
if hit "$FAIL"; then echo "stand-in: failing on demand ($FAIL)" >&2; finish 1; fi
seconds="$SLEEP"
for ((i = 0; i < ${#DURATIONS[@]}; i += 2)); do
  # Unquoted on purpose: the pattern is a glob.
  if [[ "$line" == ${DURATIONS[i]} ]]; then seconds="${DURATIONS[i+1]}"; break; fi
done
sleep "$seconds"
case "$tool" in
terraform)
  sub=""; chdir=""
  for a in "$@"; do
    case "$a" in
      -chdir=*) chdir="${a#-chdir=}" ;;
      -*) ;;
      *) [ -z "$sub" ] && sub="$a" ;;
    esac
  done
  # `qa` for infra/qa, `qa/link` for its link module (as `Call::module` says).
  module=${chdir#infra/}
  case "$sub" in
    show) echo '{"resource_changes":[{"change":{"actions":["create"]}},{"change":{"actions":["update"]}}]}' ;;
    output) echo "{\"cluster_name\":{\"value\":\"eks-$module\"}}" ;;
    state) for m in $STATE; do [ "$m" = "$module" ] && echo "aws_vpc_peering_connection.this"; done ;;
    plan)
      for a in "$@"; do
        if [ "$a" = "-detailed-exitcode" ]; then
          if [ "$VERIFY_EXIT" = 2 ]; then echo "Plan: 1 to add, 1 to change, 0 to destroy."
          elif [ "$VERIFY_EXIT" = 0 ]; then echo "No changes. Your infrastructure matches the configuration."
          else echo "Error: stand-in plan failed" >&2; fi
          finish "$VERIFY_EXIT"
        fi
      done
      echo "Plan: 1 to add, 1 to change, 0 to destroy." ;;
    apply)
      # The bootstrap's backend is local: a real apply leaves its state next to the module.
      [ "$module" = bootstrap ] && echo '{"version":4,"serial":1}' > "$chdir/terraform.tfstate"
      echo "Apply complete! Resources: 1 added, 1 changed, 0 destroyed." ;;
    *) echo "terraform $sub: ok" ;;
  esac ;;
helm)
  if [ "$1" = diff ]; then
    release="$3"; detailed=0
    for a in "$@"; do [ "$a" = "--detailed-exitcode" ] && detailed=1; done
    for r in $HELM_CHANGES; do
      if [ "$r" = "$release" ]; then
        echo "default, $release, Deployment (apps) has changed:"
        echo "-  replicas: 1"
        echo "+  replicas: 2"
        [ "$detailed" = 1 ] && finish 2
        finish 0
      fi
    done
    finish 0
  fi
  echo "$tool $1: ok" ;;
*) echo "$tool $1: ok" ;;
esac
finish 0
