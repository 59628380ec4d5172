"""The Amazon ML recipe language compiled to a pyspark.ml Pipeline.

A recipe (docs/amazon-ml.md, "Recipes and transformations") has `groups`, `assignments` and `outputs`:

    {"groups": {"LONGTEXT": "group_remove(ALL_TEXT, title, subject)"},
     "assignments": {"binned_age": "quantile_bin(age, 30)"},
     "outputs": ["ngram(lowercase(no_punct(LONGTEXT)), 2)", "binned_age", "ALL_CATEGORICAL"]}

- `parse_recipe(text)` reads the JSON-like text: `//` comments (outside and inside the
  expression strings) are dropped, sections are checked, every expression is parsed, and
  errors give the line and column. It returns a `Recipe` (a plain dict with `.positions`).
- `compile_recipe(schema, recipe)` type-checks the recipe against the schema and returns an
  unfitted Pipeline (see its docstring for the columns it adds).
- `suggest_recipe(schema, df)` proposes a recipe users can print (`format_recipe`) and edit.

Expressions: a name (attribute, built-in group ALL_TEXT / ALL_NUMERIC / ALL_CATEGORICAL /
ALL_BINARY / ALL_INPUTS, custom group or assignment) or a call `f(arg, ...)`. Names that
contain `, ' " ( ) \\` or whitespace are written in single or double quotes. A transform
applied to a group applies to each member. Types: lowercase/no_punct take TEXT; ngram/osb take
TEXT that is still a word sequence (n 2..10); quantile_bin (n 5..1000) and normalize take
NUMERIC; cartesian takes TEXT, CATEGORICAL or BINARY (binary as the token 0 or 1) and gives
CATEGORICAL tokens. Raw outputs: TEXT gives its whitespace tokens (unigrams), CATEGORICAL
its value as one token, BINARY the token 0 or 1, NUMERIC its value in the vector.

The package: `expressions` (tokenizer and parser), `parse` (recipe text to a checked recipe),
`plan` (resolved against a schema), `pipeline` (compile_recipe), `suggest` (suggest_recipe, format_recipe).
Everything is importable from `features.recipe`.
"""

from __future__ import annotations

from features.recipe.expressions import Call, Int, Name, parse_expr, quote_name, strip_comment, tokenize_expr
from features.recipe.parse import SECTIONS, Recipe, RecipeError, check_recipe, parse_recipe
from features.recipe.pipeline import compile_recipe
from features.recipe.plan import GROUP_FUNCTIONS, N_RANGE, TRANSFORMS, RecipePlan, Value, plan_recipe
from features.recipe.suggest import SUGGESTED_BINS, format_recipe, suggest_recipe, suggested_bins

__all__ = [
    "GROUP_FUNCTIONS",
    "N_RANGE",
    "SECTIONS",
    "SUGGESTED_BINS",
    "TRANSFORMS",
    "Call",
    "Int",
    "Name",
    "Recipe",
    "RecipeError",
    "RecipePlan",
    "Value",
    "check_recipe",
    "compile_recipe",
    "format_recipe",
    "parse_expr",
    "parse_recipe",
    "plan_recipe",
    "quote_name",
    "strip_comment",
    "suggest_recipe",
    "suggested_bins",
    "tokenize_expr",
]
