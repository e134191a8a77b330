"""MkDocs hook: the config reference page's tables, written from the pydantic schemas at build time
(rlgen/schema_docs.py), so that a field added to a schema appears in the site with no other change."""

MARKER = "<!-- config-reference -->"


def on_page_markdown(markdown, page, config, files):
    if MARKER not in markdown:
        return markdown
    from rlgen.schema_docs import config_reference

    return markdown.replace(MARKER, "# Every field\n\nGenerated from the schemas of the installed rlgen.\n\n"
                            + config_reference())
