# bash completion for dnntrain, dnneval and dnntune (installed once under each name). The flags come from the
# command's own --help, so they cannot drift from what it accepts; flags that take a file or a folder
# complete names, and flags with a fixed set of values complete those.

_dnn_flags()
{
    "$1" --help 2>/dev/null | grep -o -- '--[a-z][a-z0-9-]*' | sort -u
}

# COMPREPLY from compgen's lines, so names with spaces stay whole
_dnn_reply()
{
    local IFS=$'\n'
    COMPREPLY=($(compgen "$@"))
}

_dnn()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=
    [ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD - 1]}
    # --flag=value: bash splits at "=", so the flag is one word further back
    if [ "$cur" = "=" ]; then
        cur=
    fi
    if [ "$prev" = "=" ] && [ "$COMP_CWORD" -gt 1 ]; then
        prev=${COMP_WORDS[COMP_CWORD - 2]}
    fi
    case $prev in
    --config)
        compopt -o filenames 2>/dev/null
        _dnn_reply -f -X '!*.json' -- "$cur"
        local IFS=$'\n'
        COMPREPLY+=($(compgen -d -- "$cur")) # folders, to reach the file
        return
        ;;
    --model | --resume | --export | --data | --labels | --predict | --report | --groups | --baseline)
        compopt -o filenames 2>/dev/null
        _dnn_reply -f -- "$cur"
        return
        ;;
    --out | --plot)
        compopt -o filenames 2>/dev/null
        _dnn_reply -d -- "$cur"
        return
        ;;
    --header)
        _dnn_reply -W 'true false auto' -- "$cur"
        return
        ;;
    --delimiter)
        _dnn_reply -W ', ; tab | auto' -- "$cur"
        return
        ;;
    --explain)
        _dnn_reply -W $'permutation\nsaliency\nintegrated_gradients\npermutation,saliency,integrated_gradients' -- "$cur"
        return
        ;;
    --scoring)
        _dnn_reply -W $'accuracy\nr2\nloss' -- "$cur"
        return
        ;;
    --ig-method)
        _dnn_reply -W $'gausslegendre\nriemann_trapezoid' -- "$cur"
        return
        ;;
    --set | --threads | --seed | --max-memory | --top-k | --label | --min-* | --max-* | --jobs | --threads-per-trial | \
        --repeats | --steps | --target | --explain-samples)
        COMPREPLY=() # a value the user must type
        return
        ;;
    esac
    if [[ $cur == -* || -z $cur ]]; then
        _dnn_reply -W "$(_dnn_flags "${COMP_WORDS[0]}")" -- "$cur"
    fi
}

complete -F _dnn dnntrain dnneval dnntune
