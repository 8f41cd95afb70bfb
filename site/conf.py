"""Sphinx configuration of the course website (`make site`, scripts/build_site.py).

Sphinx reads build/site-src/, which scripts/build_site.py assembles from this folder, the
notebooks, the model cards and docs/instructors.md. Nothing is executed and nothing is loaded
from the network: MathJax 3 is served from _static/mathjax (the slides' pinned npm tarball),
the Furo theme ships its own assets and uses the system fonts.
"""
project = "Auto-Encoders and Generative Models"
author = "the course team"
copyright = "the course team; MNIST: Y. LeCun, C. Cortes, C. J. C. Burges, CC BY-SA 3.0"

extensions = ["myst_nb"]
root_doc = "index"
exclude_patterns = ["_map.md", "**/.ipynb_checkpoints", "_static"]

# --- notebooks: show the committed outputs, never run them
nb_execution_mode = "off"
nb_merge_streams = True
nb_ipywidgets_js = {}  # no require.js / widget manager from a CDN: widgets are static stand-ins
# Markdown *outputs* (the rendered takeaways) hold $…$ too: parse them as MyST, with the math
# extensions below, not as plain CommonMark (myst-nb's default), which leaves the TeX raw
nb_render_markdown_format = "myst"
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_dmath_double_inline = True
myst_heading_anchors = 3

# --- math: the vendored MathJax 3 (relative paths are relative to _static/)
mathjax_path = "mathjax/es5/tex-chtml-full.js"

# --- HTML: Furo (light and dark, follows the reader's system setting; toggle in the header)
html_theme = "furo"
html_title = "Auto-Encoders and Generative Models"
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_js_files = ["course.js"]  # search from file://: titles only (see the file)
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
html_theme_options = {
    "navigation_with_keys": True,
    # Okabe–Ito blue / sky blue: readable on white and on Furo's dark background
    "light_css_variables": {"color-brand-primary": "#0072B2", "color-brand-content": "#0072B2"},
    "dark_css_variables": {"color-brand-primary": "#56B4E9", "color-brand-content": "#56B4E9"},
}
