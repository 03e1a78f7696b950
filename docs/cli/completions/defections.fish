# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_defections_global_optspecs
    string join \n h/help V/version
end

function __fish_defections_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_defections_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_defections_using_subcommand
    set -l cmd (__fish_defections_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c defections -n "__fish_defections_needs_command" -s h -l help -d 'Print help'
complete -c defections -n "__fish_defections_needs_command" -s V -l version -d 'Print version'
complete -c defections -n "__fish_defections_needs_command" -f -a "compile" -d 'Build data/releases/<version>/ from seeds/ and data/codings/'
complete -c defections -n "__fish_defections_needs_command" -f -a "validate" -d 'Check a release folder against schema v1 and, with --previous, against the release before it'
complete -c defections -n "__fish_defections_needs_command" -f -a "diff" -d 'Record-level changelog from OLD to NEW: added, removed, retracted, changed (field, old, new)'
complete -c defections -n "__fish_defections_needs_command" -f -a "stats" -d 'Print counts per table and per source and the filled share of every column'
complete -c defections -n "__fish_defections_needs_command" -f -a "synth" -d 'Generate a synthetic corpus (a project folder with seeds/ and data/) for tests and benchmarks'
complete -c defections -n "__fish_defections_needs_command" -f -a "manual" -d 'Write the man pages and shell completions (bash, zsh, fish) into a folder'
complete -c defections -n "__fish_defections_needs_command" -f -a "schema" -d 'Check (default) or rewrite the committed JSON Schemas in schema/v1/'
complete -c defections -n "__fish_defections_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c defections -n "__fish_defections_using_subcommand compile" -l root -d 'Project root holding seeds/ and data/' -r -F
complete -c defections -n "__fish_defections_using_subcommand compile" -l format -d 'Output format of diagnostics' -r -f -a "text\t''
json\t''"
complete -c defections -n "__fish_defections_using_subcommand compile" -l no-cache -d 'Do not use or fill the cache of per-source results, nor the stamp of the last compile that finds an unchanged release up to date without building it (data/.cache/compile/)'
complete -c defections -n "__fish_defections_using_subcommand compile" -l check -d 'Do not write: rebuild into a temporary folder and compare with the committed release (exit 0 identical or encoding-only difference, 1 data differ or release missing)'
complete -c defections -n "__fish_defections_using_subcommand compile" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c defections -n "__fish_defections_using_subcommand validate" -l previous -d 'The release before it, for the release-to-release rules' -r -F
complete -c defections -n "__fish_defections_using_subcommand validate" -l format -d 'Output format' -r -f -a "text\t''
json\t''"
complete -c defections -n "__fish_defections_using_subcommand validate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c defections -n "__fish_defections_using_subcommand diff" -l format -d 'Output format' -r -f -a "text\t''
json\t''"
complete -c defections -n "__fish_defections_using_subcommand diff" -s h -l help -d 'Print help'
complete -c defections -n "__fish_defections_using_subcommand stats" -l format -d 'Output format' -r -f -a "text\t''
json\t''"
complete -c defections -n "__fish_defections_using_subcommand stats" -s h -l help -d 'Print help'
complete -c defections -n "__fish_defections_using_subcommand synth" -l sources -d 'Number of sources' -r
complete -c defections -n "__fish_defections_using_subcommand synth" -l out -d 'Output folder (must be empty or absent)' -r -F
complete -c defections -n "__fish_defections_using_subcommand synth" -l from -d 'Folder of real seeds to take sentences from' -r -F
complete -c defections -n "__fish_defections_using_subcommand synth" -l seed -d 'Random seed' -r
complete -c defections -n "__fish_defections_using_subcommand synth" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c defections -n "__fish_defections_using_subcommand manual" -l out -d 'Output folder: man/ and completions/ are created inside' -r -F
complete -c defections -n "__fish_defections_using_subcommand manual" -s h -l help -d 'Print help'
complete -c defections -n "__fish_defections_using_subcommand schema" -l root -d 'Project root' -r -F
complete -c defections -n "__fish_defections_using_subcommand schema" -l write -d 'Rewrite schema/v1/*.schema.json from the record types'
complete -c defections -n "__fish_defections_using_subcommand schema" -s h -l help -d 'Print help'
complete -c defections -n "__fish_defections_using_subcommand help; and not __fish_seen_subcommand_from compile validate diff stats synth manual schema help" -f -a "compile" -d 'Build data/releases/<version>/ from seeds/ and data/codings/'
complete -c defections -n "__fish_defections_using_subcommand help; and not __fish_seen_subcommand_from compile validate diff stats synth manual schema help" -f -a "validate" -d 'Check a release folder against schema v1 and, with --previous, against the release before it'
complete -c defections -n "__fish_defections_using_subcommand help; and not __fish_seen_subcommand_from compile validate diff stats synth manual schema help" -f -a "diff" -d 'Record-level changelog from OLD to NEW: added, removed, retracted, changed (field, old, new)'
complete -c defections -n "__fish_defections_using_subcommand help; and not __fish_seen_subcommand_from compile validate diff stats synth manual schema help" -f -a "stats" -d 'Print counts per table and per source and the filled share of every column'
complete -c defections -n "__fish_defections_using_subcommand help; and not __fish_seen_subcommand_from compile validate diff stats synth manual schema help" -f -a "synth" -d 'Generate a synthetic corpus (a project folder with seeds/ and data/) for tests and benchmarks'
complete -c defections -n "__fish_defections_using_subcommand help; and not __fish_seen_subcommand_from compile validate diff stats synth manual schema help" -f -a "manual" -d 'Write the man pages and shell completions (bash, zsh, fish) into a folder'
complete -c defections -n "__fish_defections_using_subcommand help; and not __fish_seen_subcommand_from compile validate diff stats synth manual schema help" -f -a "schema" -d 'Check (default) or rewrite the committed JSON Schemas in schema/v1/'
complete -c defections -n "__fish_defections_using_subcommand help; and not __fish_seen_subcommand_from compile validate diff stats synth manual schema help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
