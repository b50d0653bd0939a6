"""What an operator gives for a merchant channel, checked against the plugin's declared
parameters: the one function behind the admin's form and `channel_activate --params`."""

import pytest
from cryptography.hazmat.primitives import serialization

from channels import registry
from channels.base import SERVICE_PROVIDER
from channels.errors import InvalidParameters
from channels.parameters import parameters_clean
from tests.channels.declared import (
    DeclaredChannel,
    bare,
    ec_private_pem,
    good_values,
    private_pem,
    public_pem,
    rsa_key,
)

PLUGIN = DeclaredChannel()
BROKEN_PRIVATE = "-----BEGIN PRIVATE KEY-----\nnonsense\n-----END PRIVATE KEY-----"
BROKEN_PUBLIC = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"


def errors_of(values: dict, **kwargs) -> dict:
    with pytest.raises(InvalidParameters) as caught:
        parameters_clean(plugin=PLUGIN, values=values, **kwargs)
    return caught.value.errors


def test_good_values_split_into_params_and_secrets():
    values = good_values()
    params, secrets = parameters_clean(plugin=PLUGIN, values=values)
    assert set(params) == {"mode", "app_id", "platform_public_key", "gateway_url"}
    assert set(secrets) == {"app_private_key", "api_key"}
    assert secrets["api_key"] == "k" * 32
    assert params["platform_public_key"] == values["platform_public_key"]


def test_keys_come_back_in_one_normal_form_whatever_form_they_were_given_in():
    pkcs1 = private_pem(fmt=serialization.PrivateFormat.TraditionalOpenSSL)
    assert "BEGIN RSA PRIVATE KEY" in pkcs1
    for given_private, given_public in [
        (pkcs1, public_pem()),
        (bare(private_pem()), bare(public_pem())),  # bare base64, as the consoles show them
        (bare(pkcs1), public_pem()),
    ]:
        params, secrets = parameters_clean(
            plugin=PLUGIN,
            values=good_values(app_private_key=given_private, platform_public_key=given_public),
        )
        assert secrets["app_private_key"] == private_pem()
        assert params["platform_public_key"] == public_pem()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("app_private_key", BROKEN_PRIVATE, "not a valid PEM private key"),
        ("app_private_key", "hello", "not a valid PEM private key"),
        ("app_private_key", public_pem(), "this is a public key"),
        ("app_private_key", private_pem(password=b"pw"), "the key is encrypted"),
        ("app_private_key", private_pem(rsa_key(1024)), "1024 bits; at least 2048"),
        ("app_private_key", ec_private_pem(), "an RSA key is needed"),
        ("platform_public_key", private_pem(), "this is a private key"),
        ("platform_public_key", BROKEN_PUBLIC, "not a valid PEM public key"),
        ("gateway_url", "openapi.example.com/gateway.do", "not a valid http(s) URL"),
        ("gateway_url", "ftp://openapi.example.com/", "not a valid http(s) URL"),
        ("mode", "partner", "choose one of ordinary, service_provider"),
        ("app_id", 12.5, "give a string, not float"),
        ("app_id", "", "App ID is required"),
        ("api_key", "   ", "API key is required"),
    ],
)
def test_bad_values_are_refused_with_what_is_wrong(name, value, message):
    errors = errors_of(good_values(**{name: value}))
    assert list(errors) == [name] and message in errors[name], errors


def test_every_missing_required_parameter_is_named_and_unknown_names_are_refused():
    errors = errors_of({"appid": "x"})
    assert set(errors) == {"appid", "app_id", "app_private_key", "platform_public_key", "api_key"}
    assert "Unknown parameter 'appid'" in errors["appid"] and "it takes: mode, app_id" in errors["appid"]
    assert "gateway_url" not in errors  # optional


def test_a_parameter_applies_only_in_its_mode():
    assert "sub_mchid" in errors_of(good_values(mode=SERVICE_PROVIDER))  # required there
    params, _ = parameters_clean(plugin=PLUGIN, values=good_values(mode=SERVICE_PROVIDER, sub_mchid="1900"))
    assert params["sub_mchid"] == "1900"
    errors = errors_of(good_values(sub_mchid="1900"))  # ordinary mode
    assert errors == {"sub_mchid": "Sub-merchant ID applies only in service-provider mode; leave it empty."}


def test_a_stored_secret_left_empty_is_kept_not_required():
    values = good_values(app_private_key="", api_key=None)
    params, secrets = parameters_clean(
        plugin=PLUGIN, values=values, stored_secrets={"app_private_key", "api_key"}
    )
    assert secrets == {} and params["app_id"] == "2021000000000001"


def test_numbers_in_a_json_file_are_taken_as_their_text():
    params, _ = parameters_clean(plugin=PLUGIN, values=good_values(app_id=1900000109))
    assert params["app_id"] == "1900000109"


def test_the_installed_plugins_declare_their_parameters():
    sandbox, balance = registry.plugin_for("sandbox"), registry.plugin_for("balance")
    assert [(p.name, p.kind, p.required) for p in sandbox.parameters] == [("base_url", "url", False)]
    assert balance.parameters == ()
    assert parameters_clean(plugin=sandbox, values={}) == ({}, {})
    with pytest.raises(InvalidParameters) as caught:
        parameters_clean(plugin=sandbox, values={"base_url": "nope"})
    assert list(caught.value.errors) == ["base_url"]
