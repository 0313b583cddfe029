"""``qtforge-orch completion bash|zsh|fish``: a shell completion script, made from the parser.

The scripts are generated from the same ``argparse`` parser the command uses, so they list
exactly its subcommands, options and choices; no extra dependency (such as shtab) is needed
for three small templates.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from typing import Any

SHELLS = ("bash", "zsh", "fish")
PROG = "qtforge-orch"
# Arguments whose values are paths: they complete file names. Other values complete from
# their choices, or not at all (a JSON text, a number of seconds).
FILE_ARGUMENTS = frozenset({"file", "plugins", "output"})


def register(commands: Any) -> None:
    """Add ``completion`` to the subcommands."""
    completion = commands.add_parser(
        "completion",
        help="print a shell completion script",
        description='Print a completion script. bash: eval "$(qtforge-orch completion bash)" '
        "in ~/.bashrc; zsh: qtforge-orch completion zsh > a folder on $fpath, named "
        "_qtforge-orch; fish: qtforge-orch completion fish > "
        "~/.config/fish/completions/qtforge-orch.fish",
    )
    completion.add_argument("shell", choices=SHELLS)
    completion.set_defaults(handler=handle)


def handle(arguments: argparse.Namespace) -> int:
    """Print the script for ``arguments.shell`` (``arguments.root_parser``: the whole CLI)."""
    sys.stdout.write(script(arguments.root_parser, arguments.shell))
    return 0


@dataclass
class Option:
    """One option of a command, as completion needs it."""

    flags: list[str]
    help: str
    takes_value: bool
    choices: list[str]
    files: bool
    repeatable: bool


@dataclass
class Command:
    """A subcommand: its options and its positional arguments' completions."""

    name: str
    help: str
    options: list[Option] = field(default_factory=list)
    positional_choices: list[str] = field(default_factory=list)
    positional_files: bool = False


def _option(action: argparse.Action) -> Option:
    return Option(
        flags=list(action.option_strings),
        help=_plain(action.help),
        takes_value=action.nargs != 0,
        choices=[str(c) for c in action.choices or ()],
        files=action.dest in FILE_ARGUMENTS,
        repeatable=isinstance(action, argparse._AppendAction),
    )


def _plain(text: str | None) -> str:
    return "" if not text or text == argparse.SUPPRESS else " ".join(text.split())


def describe(parser: argparse.ArgumentParser) -> tuple[list[Option], list[Command]]:
    """The global options and the subcommands of ``parser``."""
    global_options: list[Option] = []
    commands: list[Command] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: _plain(choice.help) for choice in action._choices_actions}
            for name, sub in action.choices.items():
                command = Command(name, helps.get(name, ""))
                for sub_action in sub._actions:
                    if sub_action.option_strings:
                        command.options.append(_option(sub_action))
                    elif sub_action.choices:
                        command.positional_choices.extend(str(c) for c in sub_action.choices)
                    elif sub_action.dest in FILE_ARGUMENTS:
                        command.positional_files = True
                commands.append(command)
        elif action.option_strings:
            global_options.append(_option(action))
    return global_options, commands


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The completion script for ``shell`` (one of ``SHELLS``)."""
    global_options, commands = describe(parser)
    if shell == "bash":
        return _bash(global_options, commands)
    if shell == "zsh":
        return _zsh(global_options, commands)
    return _fish(global_options, commands)


# --- bash -------------------------------------------------------------------------------------
def _bash(global_options: list[Option], commands: list[Command]) -> str:
    global_words = " ".join(f for o in global_options for f in o.flags)
    names = " ".join(c.name for c in commands)
    cases: list[str] = []
    for command in commands:
        value_cases: list[str] = []
        for option in command.options:
            if not option.takes_value:
                continue
            pattern = "|".join(option.flags)
            if option.choices:
                action = f'COMPREPLY=($(compgen -W "{" ".join(option.choices)}" -- "$cur"))'
            elif option.files:
                action = "_qtforge_orch_files"
            else:
                action = "COMPREPLY=()"
            value_cases.append(f"            {pattern}) {action}; return ;;")
        flags = " ".join(f for o in command.options for f in o.flags)
        if command.positional_choices:
            positional = (
                f'COMPREPLY=($(compgen -W "{" ".join(command.positional_choices)}" -- "$cur"))'
            )
        elif command.positional_files:
            positional = "_qtforge_orch_files"
        else:
            positional = "COMPREPLY=()"
        cases.append(
            f"    {command.name})\n"
            f'        case "$prev" in\n'
            + "".join(f"{line}\n" for line in value_cases)
            + "        esac\n"
            f"        if [[ $cur == -* ]]; then\n"
            f'            COMPREPLY=($(compgen -W "{flags}" -- "$cur"))\n'
            f"        else\n"
            f"            {positional}\n"
            f"        fi\n"
            f"        ;;"
        )
    return f"""# bash completion for {PROG}: eval "$({PROG} completion bash)"
_qtforge_orch_files() {{
    compopt -o filenames 2>/dev/null
    COMPREPLY=($(compgen -f -- "$cur"))
}}

_qtforge_orch() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}"
    local prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    local command="" i word
    for ((i = 1; i < COMP_CWORD; i++)); do
        word="${{COMP_WORDS[i]}}"
        case "$word" in
            -*) ;;
            *) command="$word"; break ;;
        esac
    done
    if [[ -z $command ]]; then
        COMPREPLY=($(compgen -W "{names} {global_words}" -- "$cur"))
        return
    fi
    case "$command" in
{chr(10).join(cases)}
    esac
}}
complete -F _qtforge_orch {PROG}
"""


# --- zsh --------------------------------------------------------------------------------------
def _zsh_quote(text: str) -> str:
    return text.replace("'", "'\\''").replace("[", "\\[").replace("]", "\\]")


def _zsh_spec(option: Option) -> str:
    help_text = _zsh_quote(option.help)
    if option.takes_value:
        if option.choices:
            value = f":value:({' '.join(option.choices)})"
        elif option.files:
            value = ":file:_files"
        else:
            value = ":value: "
    else:
        value = ""
    repeat = "*" if option.repeatable else ""
    if len(option.flags) == 1:
        return f"'{repeat}{option.flags[0]}[{help_text}]{value}'"
    exclusive = " ".join(option.flags)
    flags = ",".join(option.flags)
    return f"'{repeat}({exclusive})'{{{flags}}}'[{help_text}]{value}'"


def _zsh(global_options: list[Option], commands: list[Command]) -> str:
    described = "\n".join(f"        '{c.name}:{_zsh_quote(c.help)}'" for c in commands)
    global_specs = " \\\n        ".join(_zsh_spec(o) for o in global_options)
    cases: list[str] = []
    for command in commands:
        specs = [_zsh_spec(o) for o in command.options]
        if command.positional_choices:
            specs.append(f"'1:argument:({' '.join(command.positional_choices)})'")
        elif command.positional_files:
            specs.append("'1:file:_files'")
        joined = " \\\n                    ".join(specs)
        indent = " " * 16
        cases.append(f"{indent}{command.name})\n{indent}    _arguments {joined}\n{indent}    ;;")
    return f"""#compdef {PROG}
# zsh completion for {PROG}: save as _{PROG} in a folder on $fpath (or eval it).

_qtforge_orch() {{
    local curcontext="$curcontext" state line
    local -a commands
    commands=(
{described}
    )
    _arguments -C \\
        {global_specs} \\
        '1: :->command' \\
        '*:: :->argument'
    case $state in
        command)
            _describe -t commands '{PROG} command' commands
            ;;
        argument)
            case $words[1] in
{chr(10).join(cases)}
            esac
            ;;
    esac
}}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _qtforge_orch "$@"
else
    compdef _qtforge_orch {PROG}
fi
"""


# --- fish -------------------------------------------------------------------------------------
def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish_option(condition: str, option: Option) -> str:
    parts = [f"complete -c {PROG}", f"-n {_fish_quote(condition)}"]
    for flag in option.flags:
        if flag.startswith("--"):
            parts.append(f"-l {flag[2:]}")
        else:
            parts.append(f"-s {flag[1:]}")
    if option.takes_value:
        if option.choices:
            parts.append(f"-x -a {_fish_quote(' '.join(option.choices))}")
        elif option.files:
            parts.append("-r -F")
        else:
            parts.append("-x")
    if option.help:
        parts.append(f"-d {_fish_quote(option.help)}")
    return " ".join(parts)


def _fish(global_options: list[Option], commands: list[Command]) -> str:
    names = " ".join(c.name for c in commands)
    lines = [
        f"# fish completion for {PROG}: save as ~/.config/fish/completions/{PROG}.fish",
        f"complete -c {PROG} -f",
    ]
    for option in global_options:
        lines.append(_fish_option("__fish_use_subcommand", option))
    for command in commands:
        lines.append(
            f"complete -c {PROG} -n __fish_use_subcommand -a {command.name} "
            f"-d {_fish_quote(command.help)}"
        )
    for command in commands:
        condition = f"__fish_seen_subcommand_from {command.name}"
        for option in command.options:
            lines.append(_fish_option(condition, option))
        if command.positional_choices:
            choices = _fish_quote(" ".join(command.positional_choices))
            lines.append(f"complete -c {PROG} -n {_fish_quote(condition)} -x -a {choices}")
        elif command.positional_files:
            lines.append(f"complete -c {PROG} -n {_fish_quote(condition)} -F")
    lines.append(f"# subcommands: {names}")
    return "\n".join(lines) + "\n"
