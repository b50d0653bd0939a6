"""The admin's activation form for a merchant channel, built from its plugin's declared
`parameters`: a field per parameter by kind, no JSON text area. Checking is
channels.parameters' `parameters_clean`, the same as `manage.py channel_activate`.

Secrets are never rendered back: not a stored one (the field only says it is set) and not
one just typed into a form that is shown again with errors."""

from django import forms

from channels.base import ChannelPlugin, Parameter
from channels.errors import InvalidParameters
from channels.parameters import parameters_clean

KEEP = "Set — leave empty to keep."


class SecretTextarea(forms.Textarea):
    """A text area that never shows its value, as PasswordInput(render_value=False) does."""

    def format_value(self, value: object) -> None:
        return None


def _field(parameter: Parameter, *, stored: bool) -> forms.Field:
    help_text = f"Required. {parameter.help}" if parameter.required else parameter.help
    if len(parameter.modes) == 1:
        mode = next(iter(parameter.modes)).replace("_", "-")
        help_text = f"{help_text} ({mode} mode only.)".strip()
    if parameter.secret and stored:
        help_text = f"{KEEP} {help_text}".strip()
    # Required-ness depends on the mode and on what is stored: parameters_clean decides.
    common = {"label": parameter.label, "required": False, "help_text": help_text}
    if parameter.kind == "choice":
        blank = [] if parameter.required else [("", "—")]
        return forms.ChoiceField(choices=blank + [(c, c) for c in parameter.choices], **common)
    if parameter.kind == "url":
        return forms.CharField(widget=forms.URLInput(attrs={"size": 60}), **common)
    if parameter.kind == "pem_private":
        return forms.CharField(widget=SecretTextarea(attrs={"rows": 4, "cols": 70}), **common)
    if parameter.kind == "pem_public":
        return forms.CharField(widget=forms.Textarea(attrs={"rows": 4, "cols": 70}), **common)
    if parameter.kind == "secret":
        return forms.CharField(widget=forms.PasswordInput(render_value=False), **common)
    return forms.CharField(widget=forms.TextInput(attrs={"size": 40}), **common)


class ChannelActivationForm(forms.Form):
    """`plugin`'s parameters; `initial` the merchant channel's stored public params;
    `stored_secrets` the names of the secrets it holds. After is_valid(): `.params` and
    `.secrets` for merchant_channel_activate."""

    def __init__(
        self,
        *args: object,
        plugin: ChannelPlugin,
        stored_secrets: frozenset[str] = frozenset(),
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.plugin, self.stored_secrets = plugin, stored_secrets
        self.params: dict = {}
        self.secrets: dict = {}
        for parameter in plugin.parameters:
            self.fields[parameter.name] = _field(parameter, stored=parameter.name in stored_secrets)

    def clean(self) -> dict:
        data = super().clean()
        try:
            self.params, self.secrets = parameters_clean(
                plugin=self.plugin, values=data, stored_secrets=self.stored_secrets
            )
        except InvalidParameters as exc:
            for name, message in exc.errors.items():
                self.add_error(name if name in self.fields else None, message)
        return data
