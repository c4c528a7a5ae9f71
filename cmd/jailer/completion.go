package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
)

// The bash and zsh scripts ask jailer itself what may come next: urfave/cli
// answers `jailer ARGS... --generate-bash-completion` with the commands or
// flags that fit (EnableBashCompletion). An empty answer means a file name.

const bashCompletion = `# bash completion for %[1]s: %[1]s completion bash > /usr/share/bash-completion/completions/%[1]s
# (or, for the current shell only: source <(%[1]s completion bash))
_%[2]s_complete() {
	local cur prev words cword
	if declare -F _init_completion >/dev/null 2>&1; then
		_init_completion -n =: || return
	else
		cur=${COMP_WORDS[COMP_CWORD]} words=("${COMP_WORDS[@]}") cword=$COMP_CWORD
	fi
	local -a ask=("${words[@]:0:cword}")
	# A lone -- would end the flags (and completion) for urfave/cli: ask with -.
	[[ $cur == -* ]] && ask+=("${cur/#--/-}")
	local IFS=$'\n'
	COMPREPLY=($(compgen -W "$("${ask[@]}" --generate-bash-completion 2>/dev/null)" -- "$cur"))
}
complete -o bashdefault -o default -F _%[2]s_complete %[1]s
`

const zshCompletion = `#compdef %[1]s
# zsh completion for %[1]s: %[1]s completion zsh > /usr/local/share/zsh/site-functions/_%[1]s
# (or, for the current shell only, after compinit: source <(%[1]s completion zsh))
_%[2]s() {
	local -a ask answers
	ask=("${(@)words[1,CURRENT-1]}")
	# A lone -- would end the flags (and completion) for urfave/cli: ask with -.
	[[ ${words[CURRENT]} == -* ]] && ask+=("${words[CURRENT]/#--/-}")
	# With $0 ending in zsh, urfave/cli adds each command's usage (name:usage).
	answers=("${(@f)$(env 0=zsh "${ask[@]}" --generate-bash-completion 2>/dev/null)}")
	if [[ -n ${answers[1]} ]]; then
		_describe -t commands '%[1]s' answers
	else
		_files
	fi
}
if [[ ${funcstack[1]} == _%[2]s ]]; then
	_%[2]s "$@"  # autoloaded from fpath
else
	compdef _%[2]s %[1]s
fi
`

var completionShells = []string{"bash", "zsh", "fish"}

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print the shell completion script for bash, zsh or fish",
		ArgsUsage: strings.Join(completionShells, "|"),
		Description: "   jailer completion bash > /usr/share/bash-completion/completions/jailer\n" +
			"   jailer completion zsh > /usr/local/share/zsh/site-functions/_jailer\n" +
			"   jailer completion fish > ~/.config/fish/completions/jailer.fish\n" +
			"or, for the current shell only: source <(jailer completion bash)   (make install installs all three)",
		BashComplete: func(c *cli.Context) {
			if c.NArg() == 0 && !strings.HasPrefix(os.Args[len(os.Args)-2], "-") {
				fmt.Fprintln(c.App.Writer, strings.Join(completionShells, "\n"))
			}
		},
		Action: func(c *cli.Context) error {
			shell, err := oneArg(c, "shell (bash, zsh or fish)")
			if err != nil {
				return err
			}
			name := c.App.Name
			fn := strings.Map(func(r rune) rune {
				if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
					return r
				}
				return '_'
			}, name)
			var script string
			switch shell {
			case "bash":
				script = fmt.Sprintf(bashCompletion, name, fn)
			case "zsh":
				script = fmt.Sprintf(zshCompletion, name, fn)
			case "fish":
				if script, err = c.App.ToFishCompletion(); err != nil {
					return err
				}
				script += fmt.Sprintf("complete -c %s -n '__fish_seen_subcommand_from completion' -f -a '%s'\n",
					name, strings.Join(completionShells, " "))
			default:
				return usagef("no completion for %q: use %s", shell, strings.Join(completionShells, ", "))
			}
			_, err = fmt.Fprint(c.App.Writer, script)
			return err
		},
	}
}
