# bash completion for ckpt  -*- shell-script -*-
_ckpt() {
	local cur prev words cword
	_init_completion || return
	local cmds="dump restore inspect verify sign unlock check core merge run watch help"
	local i cmd=""
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in -*) ;; *) cmd=${words[i]}; break ;; esac
	done
	if [[ -z $cmd ]]; then
		COMPREPLY=($(compgen -W "$cmds -v --verbose -q --quiet -V --version -h --help" -- "$cur"))
		return
	fi
	case $cmd in
	dump)
		case $prev in
		-o|--output|--parent) _filedir; return ;;
		--compress) COMPREPLY=($(compgen -W "auto none zlib zstd lz4" -- "$cur")); return ;;
		--network-lock) COMPREPLY=($(compgen -W "nftables skip" -- "$cur")); return ;;
		-j|--jobs|--exclude|--exclude-mapping|--lose-fd) return ;;
		esac
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-o --output --kill --stop --no-sync --compress -j --jobs --exclude --exclude-mapping --track --parent --fork --no-fork --snapshot --single --per-process-pages --allow-lost-fds --lose-fd --lose-sem-undo --network-lock --json -q --quiet -v --verbose -h --help" -- "$cur"))
		else
			_pids
		fi ;;
	restore)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-d --detach --lazy --no-lazy --pid-ns --rollback-files --ignore-file-changes --trust --json -q --quiet -v --verbose -h --help" -- "$cur"))
		else
			_filedir
		fi ;;
	core)
		case $prev in
		-o|--output) _filedir; return ;;
		-p|--pid) return ;;
		esac
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-o --output -p --pid -q --quiet -v --verbose -h --help" -- "$cur"))
		else
			_filedir
		fi ;;
	merge)
		case $prev in
		-o|--output) _filedir; return ;;
		esac
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-o --output --no-sync -q --quiet -v --verbose -h --help" -- "$cur"))
		else
			_filedir
		fi ;;
	inspect|verify|sign|unlock)
		if [[ $cur == -* ]]; then
			local o="--json -q --quiet -v --verbose -h --help"
			[[ $cmd == sign || $cmd == unlock ]] && o="-v --verbose -h --help"
			COMPREPLY=($(compgen -W "$o" -- "$cur"))
		else
			_filedir
		fi ;;
	run|watch)
		case $prev in
		--dir) _filedir -d; return ;;
		--log) _filedir; return ;;
		--on) COMPREPLY=($(compgen -W "SIGTERM SIGUSR1 SIGUSR2 SIGINT SIGHUP SIGXCPU" -- "$cur")); return ;;
		--restart-on) COMPREPLY=($(compgen -W "signal SIGSEGV SIGBUS SIGABRT SIGKILL" -- "$cur")); return ;;
		--every|--keep|--grace|--restarts) return ;;
		esac
		# after "--", COMMAND and its arguments
		for ((i = 2; i < cword; i++)); do
			[[ ${words[i]} == -- ]] && { _command_offset $((i + 1)) 2>/dev/null || _filedir; return; }
		done
		if [[ $cur == -* ]]; then
			local o="--every --dir --keep --grace --on --json --log -q --quiet -v --verbose -h --help"
			[[ $cmd == run ]] && o="$o --restarts --restart-on --rollback-files"
			COMPREPLY=($(compgen -W "$o" -- "$cur"))
		elif [[ $cmd == watch ]]; then
			_pids
		fi ;;
	check)
		COMPREPLY=($(compgen -W "--json -q --quiet -v --verbose -h --help" -- "$cur")) ;;
	help)
		COMPREPLY=($(compgen -W "$cmds" -- "$cur")) ;;
	esac
}
complete -F _ckpt ckpt
