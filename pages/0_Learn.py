"""Learn: how a diffusion model makes a crystal, in five short sections a teacher can project."""

import streamlit as st

from backend.app.figures import frames_figure
from backend.app.page import page_header
from backend.app.services import model_info
from backend.app.uploads import bundled_hosts
from backend.learn import toy
from backend.learn.crystal import noised, predict, teaching_cell
from backend.learn.figures import mixture_figure, prediction_bars, reverse_figure
from backend.learn.guidance import SEEDS, SeedExamples, structure_frame, verdict
from backend.learn.guidance import examples as learn_examples
from backend.limits import COVALENT_FRACTION

page_header("Learn", "Learn: how a diffusion model makes a crystal")
st.caption(
    "Five short sections, each with one or two controls. Everything is computed here, offline: the 2D maths "
    "exactly, the crystal parts with the embedded MatterGen model the rest of the app uses."
)


@st.cache_resource(show_spinner="Loading the embedded model...")
def embedded_model():  # noqa: ANN201 - a LoadedModel
    from backend.sampling.models import load_model

    return load_model("default")


st.header("1. Diffusion in two dimensions")
st.write(
    "Data (six Gaussian blobs) are blurred step by step until nothing of them is left; a sampler runs the blur "
    "backwards, guided by the **score** -- the direction in which the blurred density grows."
)
st.latex(r"\text{VP: } x_t = \alpha_t x_0 + \sqrt{1-\alpha_t^2}\,z \qquad \text{VE: } x_t = x_0 + \sigma_t z")
st.latex(r"\text{reverse SDE: } dx = \left[f(x,t) - g(t)^2\,\nabla_x \log p_t(x)\right]dt + g(t)\,d\bar W")


@st.fragment
def two_dimensions() -> None:
    """Section 1 reruns alone when its controls change (the crystal sections below are not recomputed)."""
    left, right = st.columns(2)
    process = left.radio(
        "Forward process", toy.PROCESSES, horizontal=True, help="VP: MatterGen's lattice; VE: positions"
    )
    t_value = right.slider("Noise level t", 0.0, 1.0, 0.2, 0.01)
    mixture = toy.Mixture.ring()
    a, s = toy.signal_and_noise(t_value, process)
    st.caption(f"t = {t_value:.2f}: signal coefficient {float(a):.3f}, noise std {float(s):.3f}")
    st.plotly_chart(mixture_figure(mixture, t_value, process), key="toy-forward", width="content")
    left, right = st.columns(2)
    sampler = left.selectbox("Sampler", toy.SAMPLERS)
    steps = right.slider("Steps", 2, 400, 20, help="Too few steps leave the samples blurred or off the blobs")
    st.plotly_chart(reverse_figure(mixture, steps, process, sampler), key="toy-reverse", width="content")


two_dimensions()

st.header("2. Noising a real crystal")
st.write(
    "The embedded model's own forward process: fractional coordinates diffuse on a torus (an atom that leaves "
    "one face comes back through the opposite one), the lattice relaxes towards a cube at a fixed density, and "
    "atom types are absorbed one by one into a **mask** state (grey)."
)
hosts = bundled_hosts()
names = list(hosts)
crystal_name = st.selectbox("Crystal", names, index=names.index("NaCl_mp-22862"))
crystal = teaching_cell(hosts[crystal_name])


@st.fragment
def noising() -> None:
    """Section 2 reruns alone when its slider moves."""
    crystal_t = st.slider("Noise level t", 0.0, 1.0, 0.3, 0.01, key="crystal-t")
    if crystal_t == 0:
        st.caption("t = 0: the crystal itself")
        return
    snapshot = noised(embedded_model(), crystal, crystal_t, copies=3)
    levels = snapshot.levels
    st.caption(
        f"t = {levels.t:.2f}: position noise {levels.position_std:.3f} (fractional), lattice signal "
        f"{levels.lattice_signal:.3f} and noise {levels.lattice_std:.2f} Å per entry, types masked "
        f"{levels.masked_share:.0%} on average"
    )
    st.plotly_chart(frames_figure(list(snapshot.frames), columns=3, height=340), key="crystal-noise")


noising()

st.header("3. What the model predicts")
st.write(
    "At a noise level t the model looks at the noisy crystal and estimates the clean one: where each atom was, "
    "what the cell was, and which element each atom is (bars: the model's probabilities for one atom)."
)
st.latex(r"\hat x_0 = x_t + \sigma_t^2\, s_\theta(x_t, t) \quad\text{(positions)}")


@st.fragment
def prediction_section() -> None:
    """Section 3 reruns alone when its controls change."""
    predict_t = st.select_slider("Noise level t", [0.05, 0.1, 0.2, 0.3, 0.5, 0.8], value=0.3, key="predict-t")
    prediction = predict(embedded_model(), crystal, predict_t)
    st.plotly_chart(
        frames_figure([prediction.noisy, prediction.estimate, structure_frame(crystal, 2)], columns=3, height=340),
        key="prediction",
    )
    st.caption(
        f"At t = {predict_t}. Left: the noisy input. Middle: the model's estimate (colour: its most likely "
        "element). Right: the truth."
    )
    atom = st.number_input("Atom", min_value=0, max_value=len(crystal) - 1, value=0, step=1)
    st.plotly_chart(prediction_bars(prediction, int(atom)), key="type-bars")


prediction_section()

st.header("4. Guidance and constraints")
st.write(
    "Classifier-free guidance mixes the model's unconditional and conditional scores; a factor above 1 pushes "
    "further towards the condition. A space-group constraint instead projects the crystal into the group after "
    "every step. Same seed, same model, side by side."
)
st.latex(r"s = s_\theta(x_t, t) + \gamma\,\left[s_\theta(x_t, t \mid \text{Li-O}) - s_\theta(x_t, t)\right]")


@st.cache_data(show_spinner="Reading the examples (the embedded model made them; another model makes its own)...")
def examples() -> dict[int, tuple[SeedExamples, tuple[str, ...]]]:
    """Every seed's examples and the guided ones' verdicts at once: switching seeds in class is then instant."""
    return {
        seed: (found, tuple(verdict(s) for _, s in found.guided))
        for seed, found in learn_examples(embedded_model()).items()
    }


@st.fragment
def guidance_section() -> None:
    """Section 4 reruns alone when its seed changes."""
    seed = st.radio("Seed", SEEDS, horizontal=True)
    chosen, verdicts = examples()[seed]
    guided, symmetric = chosen.guided, chosen.symmetric
    frames = [structure_frame(s, i) for i, (_, s) in enumerate(guided) if s is not None]
    st.plotly_chart(frames_figure(frames, columns=3, height=320), key="guidance")
    st.caption(
        f"Seed {seed} (γ = 0 is the unconditional model; the condition is Li-O): "
        + " · ".join(f"γ = {g:g}: {text}" for (g, _), text in zip(guided, verdicts))
    )
    st.caption(
        "Guidance steers which elements appear, not whether the crystal is physical: these unrelaxed samples of a "
        "small model are often not charge-balanced, and atoms closer than "
        f"{COVALENT_FRACTION:g} of their covalent radii overlap. "
        "Relax a candidate and place it on the hull (section 5) before calling it a material."
    )
    frames = [structure_frame(s, i) for i, (_, s) in enumerate(symmetric) if s is not None]
    st.plotly_chart(frames_figure(frames, columns=2, height=320), key="symmetry")
    st.caption(" · ".join(label for label, _ in symmetric))


guidance_section()

st.header("5. From sample to material")
st.write(
    "A generated crystal is only a candidate. The product's own pages take it the rest of the way: "
    "[Generate](./Generate) a composition (e.g. Li2Fe2O4, 100 steps), watch it on [Live denoising](./Live_denoising), "
    "open it in the [Structure viewer](./Structure_viewer) (sanity, symmetry, coordination), then on "
    "[Relax & hull](./Relax_and_hull) relax it with CHGNet and read its energy above the Materials Project hull: "
    "within 0.1 eV/atom it may be made; far above, it would decompose."
)
info = model_info("default")
st.caption(f"Embedded model: {info.parameters / 1e6:.2f} M parameters, trained by this project on MP-20 crystals.")
