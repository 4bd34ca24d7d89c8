"""HOG explorer: the paper's eqs. 1-8 step by step on one face, with its parameters on sliders."""

import streamlit as st

from ferviz.data.hog import hog_steps
from ferviz.figures.hog import (
    ANGLE_MIN_MAGNITUDE,
    block_figure,
    block_values,
    cell_grid_figure,
    cell_histogram_figure,
    descriptor_figure,
    glyph_figure,
    gradient_figures,
    heatmap_figure,
    input_planes,
    input_planes_figure,
)
from ferviz.ui.explain import charts_side_by_side, how_to_read, pick_face
from ferviz.ui.hog import cell_picker, hog_controls
from ferviz.ui.navigation import ensure_navigation

ensure_navigation()
st.set_page_config(page_title="HOG · ferviz", layout="wide")
st.title("Histogram of Oriented Gradients, step by step")
how_to_read("the sections follow the equations in order, on the face the model saw; axes are in pixels "
            "of the 64x64 face and every colour bar gives its unit. Change the cell size, bins and block "
            "size in the sidebar.")
st.caption("Eqs. 1-8 of the paper on one 64x64 face. Move the sliders in the sidebar; the paper uses "
           "8-pixel cells, 9 bins of 20° and blocks of 2x2 cells (1764 values for 64x64).")

picked = pick_face("hog")
if picked is None:
    st.stop()
loaded, picked_face = picked
face = picked_face.crop
cell, bins, block = hog_controls()
steps = hog_steps(face, cell_size=cell, n_bins=bins, block_size=block)

st.header("1. Gradients and their polar form (eqs. 1-4)")
st.caption(f"The angle is drawn only where the magnitude is at least {ANGLE_MIN_MAGNITUDE:g} (about 5 of 255 "
           "grey levels over two pixels); where the face is flatter, the direction of the gradient is noise.")
figures = gradient_figures(steps)
for row in (("gx", "gy"), ("magnitude", "angle")):
    charts_side_by_side([figures[name] for name in row], [f"hog_{name}" for name in row])

st.header("2. One cell's orientation histogram (eqs. 5-6)")
n_rows, n_cols = steps.cell_histograms.shape[:2]
row, col = cell_picker(n_rows, n_cols)
charts_side_by_side([cell_grid_figure(steps, row, col), cell_histogram_figure(steps, row, col)],
                    ["hog_grid", "hog_hist"])

st.header("3. Block normalisation (eqs. 7-8)")
st.caption(f"The {block}x{block}-cell block starting at the chosen cell (moved inside the grid if needed), "
           "before and after dividing by its L2 norm.")
st.plotly_chart(block_figure(steps, row, col), key="hog_block_fig")
with st.expander("Block values"):
    st.dataframe(block_values(steps, row, col), hide_index=True)

st.header("4. Descriptor and rendered HOG")
st.metric("Descriptor length", f"{steps.descriptor.size:,}")
st.plotly_chart(descriptor_figure(steps), key="hog_descriptor")
charts_side_by_side([heatmap_figure(steps.image, "the face (64x64)", zmin=0.0, zmax=1.0, colorbar="grey level (0-1)"),
                     glyph_figure(steps)], ["hog_face", "hog_rendered"])
st.caption("Each cell's glyph: one line per orientation bin, along the edge (perpendicular to the gradient), "
           "as long as the cell whatever its size; brightness is the bin value over the image's largest bin. "
           "The model's own HOG plane (section 5) draws the same glyphs thinner and summed.")

st.header("5. What the model sees in each input mode")
mode = loaded.preprocessing.input_mode
st.caption(f"This model was trained on **{mode}** input. The HOG planes always use the paper's parameters "
           "(8, 9, 2), whatever the sliders say.")
st.plotly_chart(input_planes_figure(input_planes(face, loaded.preprocessing.size), current=mode),
                key="hog_planes")
