"""Write a synthetic SlapOS-shaped software release tree (deterministic, seeded).

Real software releases are trees: ``software/<name>/software.cfg`` extends
``../../stack/slapos.cfg`` and dozens of ``../../component/<c>/buildout.cfg``
files, which extend each other; sections use many ``+=``, ``<=`` macros,
conditional sections and ``${section:option}`` references across files.
This generator writes such a tree, shaped by default like the public
helloworld release (about 150 files, 170 sections, 1300 options).  Every
reference points to an option that exists and the references are acyclic,
so the whole tree resolves; zc.buildout and our engine must agree on it.

Used by crates/profile/tests/it/differential.rs (a few seeds, one large
tree) and by the profile benchmark.

    python3 crates/profile/test_data/generate_tree.py \\
        --files 150 --sections 170 --options 1300 --seed 1 --out DIR

``--layers`` (default 4) and ``--extends-per-component`` (default 2) shape
the extends graph: more layers make deeper extends chains; each component
extends at most that many components of the layer below (a diamond's shared
file is processed once per path, so keep the product small).  The profile
benchmark's large tree uses ``--sections 1000 --layers 16``.

The root profile is ``DIR/software/generated/software.cfg``; DIR is created
(it must not exist yet, or must be empty).  The same arguments always write
the same bytes.
"""

import argparse
import os
import random

# Layers of components: a component extends only components of the layer
# below, at most EXTENDS_PER_COMPONENT of them, and the stack extends the top
# layer (plus components nothing else reaches), so re-processing of shared
# files (zc.buildout reads a diamond's shared file once per path) stays
# bounded by EXTENDS_PER_COMPONENT ** LAYERS per top component.
LAYERS = 4
EXTENDS_PER_COMPONENT = 2
TEMPLATE_COUNT = 6


class Section:
    def __init__(self, index, name, component):
        self.index = index
        self.name = name
        self.component = component
        self.options = []  # names, in definition order
        self.template = None  # name of the macro parent, if any
        self.is_part = False


def plan(rng, files, sections, options, layers):
    """Decide names, owners and option names of every section."""
    components = ["c%03d" % i for i in range(max(files - 2, 1))]
    layer_of = {c: min(layers - 1, i * layers // len(components)) for i, c in enumerate(components)}
    section_list = []
    for index in range(sections):
        # Every component owns at least one section; the rest at random.
        owner = components[index] if index < len(components) else rng.choice(components)
        section_list.append(Section(index, "%s-s%03d" % (owner, index), owner))
    # Templates (macro parents) live in the stack; their options are plain.
    templates = []
    for t in range(TEMPLATE_COUNT):
        template = Section(-1 - t, "template-%d" % t, None)
        template.options = ["recipe", "location", "name", "flags"]
        templates.append(template)
    # Options: at least two per section, the rest spread at random.
    budget = max(options - 2 * sections - TEMPLATE_COUNT * 4, 0)
    counts = [2] * sections
    for _ in range(budget):
        counts[rng.randrange(sections)] += 1
    for section, count in zip(section_list, counts):
        section.options = ["opt%d" % i for i in range(count)]
        if rng.random() < 0.3:
            section.template = rng.choice(templates).name
        section.is_part = rng.random() < 0.6
    return components, layer_of, section_list, templates


def value_for(rng, section, option_index, earlier_sections):
    """A value mixing literals and references to earlier things only."""
    pieces = ["v%d" % rng.randrange(1000)]
    roll = rng.random()
    if option_index > 0 and roll < 0.25:
        pieces.append("${:opt%d}" % rng.randrange(option_index))
    elif earlier_sections and roll < 0.6:
        target = rng.choice(earlier_sections)
        pieces.append("${%s:%s}" % (target.name, rng.choice(target.options)))
    elif roll < 0.7:
        pieces.append(rng.choice(["${buildout:parts-directory}", "${buildout:directory}", "${:_buildout_section_name_}", "${buildout:bin-directory}"]))
    elif roll < 0.75:
        pieces.append("$${instance:escaped}")
    separator = rng.choice(["/", " ", "-", "\n  "])
    return separator.join(pieces)


def write_section(rng, out, section, earlier_sections):
    out.append("[%s]" % section.name)
    if section.template:
        out.append("<= %s" % section.template)
    elif section.is_part:
        out.append("recipe = slapos.recipe.cmmi")
    for option_index, option in enumerate(section.options):
        value = value_for(rng, section, option_index, earlier_sections)
        if "\n" in value:
            out.append("%s =\n  %s" % (option, value))
        else:
            out.append("%s = %s" % (option, value))
    if rng.random() < 0.15:
        out.append("flags += -O%d" % rng.randrange(4))
    if rng.random() < 0.1:
        out.append("")
        out.append("[%s:python3]" % section.name)
        out.append("py = 3")
        out.append("opt0 += py3-%d" % rng.randrange(100))
        out.append("[%s:python2]" % section.name)
        out.append("py = 2")
    out.append("")


def write_tree(files, sections, options, seed, out_dir, layers=LAYERS, extends_per_component=EXTENDS_PER_COMPONENT):
    rng = random.Random(seed)
    components, layer_of, section_list, templates = plan(rng, files, sections, options, layers)
    by_component = {c: [] for c in components}
    for section in section_list:
        by_component[section.component].append(section)

    # Which components each component extends (layer below only).
    extends = {}
    for component in components:
        below = [c for c in components if layer_of[c] == layer_of[component] - 1]
        count = min(len(below), rng.randrange(extends_per_component + 1))
        extends[component] = sorted(rng.sample(below, count))

    texts = {}
    for component in components:
        lines = ["# generated component %s (seed %d)" % (component, seed), "[buildout]"]
        if extends[component]:
            lines.append("extends =")
            lines.extend("  ../%s/buildout.cfg" % c for c in extends[component])
        parts = [s.name for s in by_component[component] if s.is_part and not s.template]
        if parts:
            lines.append("parts += %s" % " ".join(parts))
        lines.append("")
        for section in by_component[component]:
            earlier = section_list[: section.index]
            write_section(rng, lines, section, earlier)
        # Extend options of sections defined in the components below.
        for other in extends[component]:
            for section in by_component[other][:2]:
                if rng.random() < 0.5:
                    lines.append("[%s]" % section.name)
                    target = rng.choice(section.options)
                    lines.append("%s += from-%s" % (target, component))
                    if rng.random() < 0.3:
                        lines.append("%s -= from-nowhere" % rng.choice(section.options))
                    lines.append("")
        texts[os.path.join("component", component, "buildout.cfg")] = "\n".join(lines) + "\n"

    # The stack extends the top layer, plus whatever no component reaches.
    top = [c for c in components if layer_of[c] == layers - 1]
    reached = set()
    pending = list(top)
    while pending:
        component = pending.pop()
        if component not in reached:
            reached.add(component)
            pending.extend(extends[component])
    stack_extends = top + [c for c in components if c not in reached]
    stack = ["# generated stack (seed %d)" % seed, "[buildout]", "extends ="]
    stack.extend("  ../component/%s/buildout.cfg" % c for c in stack_extends)
    stack += ["parts =", "find-links += http://example.invalid/packages/", ""]
    for template in templates:
        stack += [
            "[%s]" % template.name,
            "recipe = slapos.recipe.build:download",
            "location = ${buildout:parts-directory}/${:_buildout_section_name_}",
            "name = ${:_buildout_section_name_}",
            "flags = -O2",
            "",
        ]
    stack += ["[versions]", "slapos.recipe.build = 0.65", "slapos.recipe.cmmi = 0.23", ""]
    texts[os.path.join("stack", "slapos.cfg")] = "\n".join(stack) + "\n"

    root = ["# generated software release (seed %d)" % seed, "[buildout]", "extends = ../../stack/slapos.cfg"]
    macro_children = [s.name for s in section_list if s.template]
    root.append("parts +=")
    root.extend("  %s" % name for name in macro_children[:10])
    root.append("")
    root.append("[instance]")
    root.append("recipe = slapos.recipe.template")
    root.append("output = ${buildout:directory}/instance.cfg")
    for section in rng.sample(section_list, min(5, len(section_list))):
        root.append("%s = ${%s:%s}" % (section.name, section.name, section.options[0]))
    root.append("")
    root.append("[versions]")
    root.append("generated = %d" % seed)
    texts[os.path.join("software", "generated", "software.cfg")] = "\n".join(root) + "\n"

    os.makedirs(out_dir, exist_ok=True)
    if os.listdir(out_dir):
        raise SystemExit("generate_tree: %s is not empty" % out_dir)
    for path in sorted(texts):
        full = os.path.join(out_dir, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", newline="\n") as f:
            f.write(texts[path])
    return os.path.join(out_dir, "software", "generated", "software.cfg")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=150, help="number of files (>= 3)")
    parser.add_argument("--sections", type=int, default=170, help="number of sections")
    parser.add_argument("--options", type=int, default=1300, help="approximate number of options")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--layers", type=int, default=LAYERS, help="component layers (extends depth)")
    parser.add_argument(
        "--extends-per-component", type=int, default=EXTENDS_PER_COMPONENT, help="most components of the layer below each extends"
    )
    parser.add_argument("--out", required=True, help="directory to write (created, must be empty)")
    arguments = parser.parse_args()
    if arguments.files < 3 or arguments.sections < 1 or arguments.layers < 1:
        parser.error("need --files >= 3, --sections >= 1 and --layers >= 1")
    root = write_tree(
        arguments.files,
        arguments.sections,
        arguments.options,
        arguments.seed,
        arguments.out,
        arguments.layers,
        arguments.extends_per_component,
    )
    print(root)


if __name__ == "__main__":
    main()
