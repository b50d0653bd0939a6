"""A real browser for the admin pages: Debian's chromium through its chromedriver, headless.
`make test` (and CI) install both packages when they are missing; nothing downloads a
browser build."""

import contextlib
import shutil

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture
def browser(tmp_path):
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail("chromium and chromium-driver are needed (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path / 'profile'}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


class Admin:
    """The admin as a person uses it: log in, open pages, fill forms, press buttons."""

    def __init__(self, driver, base: str) -> None:
        self.driver, self.base = driver, base

    def log_in(self, username: str, password: str) -> None:
        self.driver.delete_all_cookies()
        self.open("/admin/login/")
        self.driver.find_element("name", "username").send_keys(username)
        self.driver.find_element("name", "password").send_keys(password)
        self.submit(self.driver.find_element("css selector", "input[type=submit]"))
        assert "/login/" not in self.driver.current_url, f"{username} could not log in"

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    def messages(self) -> list[str]:
        return [m.text for m in self.driver.find_elements("css selector", "ul.messagelist li")]

    def autocomplete(self, field: str, text: str) -> None:
        """An autocomplete field: open it, type, pick the first match (as a person does)."""
        self.driver.find_element("css selector", f"#id_{field} + .select2 .select2-selection").click()
        self.driver.find_element("css selector", ".select2-search__field").send_keys(text)
        self.driver.find_element(
            "xpath", f"//li[contains(@class, 'select2-results__option') and contains(., '{text}')]"
        ).click()

    def submit(self, element) -> None:
        """Click something that loads a new page, and wait until it has: reading the page
        before the answer arrives would read the old one."""
        element.click()
        with contextlib.suppress(Exception):  # no confirm() dialog to accept
            self.driver.switch_to.alert.accept()
        WebDriverWait(self.driver, 15).until(expected_conditions.staleness_of(element))
        WebDriverWait(self.driver, 15).until(
            lambda driver: driver.execute_script("return document.readyState") == "complete"
        )

    def press(self, label: str) -> None:
        """A button or link by its visible text, which loads a page."""
        xpath = f"//*[self::button or self::a][normalize-space()='{label}']"
        self.submit(self.driver.find_element("xpath", xpath))


@pytest.fixture
def admin_site(browser, live_server):
    return Admin(browser, live_server.url)
