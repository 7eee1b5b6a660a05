# bash completion for virsnap (install as
# $(pkg-config --variable=completionsdir bash-completion)/virsnap, or
# /usr/share/bash-completion/completions/virsnap).
#
# As virsh's: the words before the cursor go to `virsnap complete -- …`
# (with the -c URI and -r given on the line), which prints one candidate
# a line: commands, options, domain and snapshot names.

_virsnap_complete()
{
    local words cword c=0 i=0 cur RO URI CMDLINE INPUT A

    # Keep URIs and option values whole (the default word breaks split
    # them at ':' and '=').
    _get_comp_words_by_ref -n "\"'><=;|&(:" -w words -i cword
    COMP_WORDS=( "${words[@]}" )
    COMP_CWORD=${cword}
    cur=${COMP_WORDS[$COMP_CWORD]}

    # The connection the line asks for, read-only if it says so.
    while [ $c -le $COMP_CWORD ]; do
        local word="${COMP_WORDS[c]}"
        case "$word" in
            -r|--readonly) RO=1 ;;
            -c|--connect) c=$((++c)); URI=${COMP_WORDS[c]} ;;
            *) if [ $c -ne 0 ] && [ $i -eq 0 ]; then i=$c; break; fi ;;
        esac
        c=$((++c))
    done

    CMDLINE=( )
    if [ -n "${RO}" ]; then
        CMDLINE+=("-r")
    fi
    if [ -n "${URI}" ]; then
        CMDLINE+=("-c" "${URI}")
    fi

    INPUT=( "${COMP_WORDS[@]:$i:$COMP_CWORD}" )
    INPUT[-1]=${INPUT[-1]//\\:/:}

    local IFS=$'\n'
    A=($("$1" "${CMDLINE[@]}" complete -- "${INPUT[@]}" 2>/dev/null))

    COMPREPLY=($(compgen -W "${A[*]}" -- "${cur}"))
    __ltrim_colon_completions "$cur"
    return 0
} &&
complete -o default -o filenames -F _virsnap_complete virsnap

# vim: ft=sh:et:ts=4:sw=4:tw=80
