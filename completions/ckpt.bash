# bash completion for ckpt  -*- shell-script -*-
_ckpt() {
	local cur prev words cword
	_init_completion || return
	local cmds="dump restore inspect verify sign check core merge help"
	local i cmd=""
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in -*) ;; *) cmd=${words[i]}; break ;; esac
	done
	if [[ -z $cmd ]]; then
		COMPREPLY=($(compgen -W "$cmds -v --verbose -V --version -h --help" -- "$cur"))
		return
	fi
	case $cmd in
	dump)
		case $prev in
		-o|--output|--parent) _filedir; return ;;
		--compress) COMPREPLY=($(compgen -W "none zlib zstd lz4" -- "$cur")); return ;;
		-j|--jobs|--exclude|--exclude-mapping|--lose-fd) return ;;
		esac
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-o --output --kill --stop --no-sync --compress -j --jobs --exclude --exclude-mapping --track --parent --fork --single --per-process-pages --allow-lost-fds --lose-fd -v --verbose -h --help" -- "$cur"))
		else
			_pids
		fi ;;
	restore)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-d --detach --pid-ns --rollback-files --ignore-file-changes --trust -v --verbose -h --help" -- "$cur"))
		else
			_filedir
		fi ;;
	core)
		case $prev in
		-o|--output) _filedir; return ;;
		-p|--pid) return ;;
		esac
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-o --output -p --pid -v --verbose -h --help" -- "$cur"))
		else
			_filedir
		fi ;;
	merge)
		case $prev in
		-o|--output) _filedir; return ;;
		esac
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-o --output --no-sync -v --verbose -h --help" -- "$cur"))
		else
			_filedir
		fi ;;
	inspect|verify|sign)
		if [[ $cur == -* ]]; then
			local o="-v --verbose -h --help"
			[[ $cmd == inspect ]] && o="--json $o"
			COMPREPLY=($(compgen -W "$o" -- "$cur"))
		else
			_filedir
		fi ;;
	check)
		COMPREPLY=($(compgen -W "-v --verbose -h --help" -- "$cur")) ;;
	help)
		COMPREPLY=($(compgen -W "$cmds" -- "$cur")) ;;
	esac
}
complete -F _ckpt ckpt
