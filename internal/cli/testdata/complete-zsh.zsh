# Completes $LINE in an interactive zsh run in a zpty, with the script
# installed as _prog in $FPATH_DIR and compinit run (or, with $SOURCE
# set, compinit run and the file $SOURCE sourced; compinit's dump file
# $ZDUMP is written for $FPATH_DIR beforehand), and prints what the
# completion offered: compadd is wrapped to write the matches it is given
# (after zsh's own matching, unquoted) to $OUT before adding them. What zsh printed
# on the terminal (an error in the script) follows a line "--- terminal".
# Run by TestCompletionZsh as: zsh -f complete-zsh.zsh
zmodload zsh/zpty || exit 1
zmodload zsh/zselect || exit 1
cat > $SETUP <<'EOF'
PS1='' PS2='' RPS1=''
fpath=($FPATH_DIR $fpath)
autoload -Uz compinit && compinit -u -C -d $ZDUMP
[[ -n $SOURCE ]] && source $SOURCE
zstyle ':completion:*' insert-tab false
zstyle ':completion:*' list-grouped false
bindkey '^I' complete-word
compadd() {
	if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then
		builtin compadd "$@"
		return
	fi
	local -a __hits
	builtin compadd -A __hits "$@"
	(( $#__hits )) && print -rl -- ${(Q)__hits} >> $OUT
	builtin compadd "$@"
}
__capture_done() { print -r -- '--- done'; exit 0 }
comppostfuncs=(__capture_done)
print -r -- '--- ready'
EOF

# wait_for MARK: reads the terminal into $term until MARK, for at most 20 s.
wait_for() {
	local line
	repeat 1000; do
		while zpty -r -t z line; do
			term+=$line
			[[ $term == *$1* ]] && return 0
		done
		zselect -t 2
	done
	return 1
}

local term=
zpty z zsh -f -i
zpty -w z "source ${(q)SETUP}"
wait_for '--- ready' || { print -r -- "zsh did not start: $term" >&2; exit 1 }
term=
: > $OUT
zpty -n -w z "$LINE"$'\t'
wait_for '--- done' || { print -r -- "no completion ran: $term" >&2; exit 1 }
zpty -d z
print -r -- "$(<$OUT)"
print -r -- '--- terminal'
print -r -- ${term//$'\r'/}
