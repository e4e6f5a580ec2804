# shellcheck shell=bash
# Completes the words it is given ("$@", the last one at the cursor) with
# the function "complete -p prog" names, after sourcing $SCRIPT (and
# bash-completion's library when $BASH_COMPLETION is yes), under set -u,
# and prints COMPREPLY, a word a line. Without bash-completion, whose
# functions are not written for it, set -e is on too. compopt, which works only while
# readline completes, does nothing. $LINE is the command line.
# Run by TestCompletionBash as: bash --norc --noprofile complete-bash.sh WORD...
set -u
if [ "$BASH_COMPLETION" = yes ]; then
	# shellcheck disable=SC1091
	. /usr/share/bash-completion/bash_completion
fi
compopt() { :; }
# shellcheck disable=SC1090
. "$SCRIPT"
spec=$(complete -p prog)
fn=${spec#*-F }
fn=${fn%% *}
COMP_WORDS=("$@")
COMP_CWORD=$(($# - 1))
COMP_LINE=$LINE
COMP_POINT=${#LINE}
COMPREPLY=()
if [ "$BASH_COMPLETION" != yes ]; then
	set -e
fi
"$fn" prog "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' ${COMPREPLY[@]+"${COMPREPLY[@]}"}
